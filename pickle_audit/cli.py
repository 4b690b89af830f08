"""The `pickle-audit` command line.

Each command parses options and hands plain data to the module that does the
work; exit codes are 0 clean, 1 findings, 2 usage or configuration error.
"""

from __future__ import annotations

import click

from pickle_audit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pickle-audit")
def main() -> None:
    """Find values that cannot be pickled across a process boundary."""
