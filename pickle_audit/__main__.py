from pickle_audit.cli import main

main()
