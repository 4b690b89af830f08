"""pytest plugin: the `assert_picklable` fixture."""
