"""``python -m train.scenes ...``: the scene generator's command line (see ``train.scenes.cli``)."""

import sys

from train.scenes.cli import main

sys.exit(main(prog="python -m train.scenes"))
