"""`python -m train` is the `train` command."""

import sys

from train.cli import main

sys.exit(main())
