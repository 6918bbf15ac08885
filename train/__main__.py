"""`python -m train` is the `train` command."""

import sys

from train.cli import main

if __name__ == "__main__":  # augmentation workers are spawned and import this module again
    sys.exit(main())
