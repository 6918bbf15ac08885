"""Generate synthetic camera frames of MNIST digit strings on paper: runs ``train.scenes`` (see its docstring).

    python scripts/make_scenes.py --count 500 --seed 2024 --mnist-range 5000:10000 --out runs/scenes-eval
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's train/, installed or not

from train.scenes.cli import main

if __name__ == "__main__":
    sys.exit(main())
