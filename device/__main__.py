"""``python -m device``: the same as the ``device`` command."""

import sys

from device.cli import main

sys.exit(main())
