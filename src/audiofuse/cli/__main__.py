"""``python -m audiofuse.cli``: the ``audiofuse`` command."""

import sys

from audiofuse.cli.main import main

sys.exit(main())
