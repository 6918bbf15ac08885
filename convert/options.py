"""What ``convert`` can be asked for, with every default stated once (the CLI's flags take them from here).

Kept free of heavy imports so that ``convert --help`` answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["int8", "float32"]
IoType = Literal["int8", "uint8"]

DEFAULT_CALIBRATION_SIZE = 500
DEFAULT_MAX_DROP_POINTS = 0.2


@dataclass(frozen=True)
class ConvertOptions:
    """Everything ``convert`` can be asked for; the CLI flags map one to one.

    Raises ValueError (one line, naming the value) for a calibration size or thread count under 1.
    """

    kind: Kind = "int8"
    io_type: IoType = "int8"
    calib_path: Path | None = None  # a digit set instead of MNIST training images
    calib_size: int = DEFAULT_CALIBRATION_SIZE
    seed: int = 0
    data_path: Path | None = None  # MNIST; None: train.data's default (Keras download cache)
    max_drop_points: float = DEFAULT_MAX_DROP_POINTS  # negative: demand a gain (tests use it to force a failure)
    num_threads: int = 1
    progress: bool = True
    logit_floor: bool = True  # int8 only: clamp hopeless logits for finer steps (convert/logit_floor.py)
    recipe: str | None = None  # the training recipe to record when the model's run left no config.json

    def __post_init__(self) -> None:
        if self.kind not in ("int8", "float32"):
            raise ValueError(f"model kind must be 'int8' or 'float32', got {self.kind!r}")
        if self.io_type not in ("int8", "uint8"):
            raise ValueError(f"input/output type must be 'int8' or 'uint8', got {self.io_type!r}")
        if self.calib_size < 1:
            raise ValueError(f"calibration size must be at least 1, got {self.calib_size}")
        if self.num_threads < 1:
            raise ValueError(f"interpreter threads must be at least 1, got {self.num_threads}")
