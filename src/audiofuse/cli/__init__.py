"""The ``audiofuse`` command line: :mod:`.main` (the parser and entry point) and
:mod:`.commands` (one function per subcommand), and :mod:`.app` (the local web
page of ``audiofuse app``)."""
