"""The ``audiofuse`` command line: :mod:`.main` (the parser and entry point) and
:mod:`.commands` (one function per subcommand)."""
