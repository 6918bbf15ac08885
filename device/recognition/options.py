"""How to read digits, stated once: the ``device`` command's flags and ``Recognizer()`` both take these defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from device.recognition.segment import DEFAULT_PARAMS, SegmentParams
from device.recognition.views import MAX_LOOKS

# Below this softmax probability a segmented blob is not reported as a digit: noise, a scribble, the table's
# texture. Chosen on generated development scenes (docs/log/2026-12.md, "Where strings fail"): 0.3-0.4 read
# the most strings exactly with the bundled model, 0.5 and 0.6 drop real but untidy digits.
DEFAULT_MIN_CONFIDENCE = 0.4
DEFAULT_THREADS = 1  # one interpreter thread: a Pi's other cores capture, segment and serve


@dataclass(frozen=True)
class ReadOptions:
    """The model, its interpreter threads, the confidence threshold and the segmentation settings.

    Raises ValueError (one line, naming the value) for a thread count under 1 or a threshold outside 0..1.
    """

    model: Path | None = None  # a .tflite file; None: the bundled int8 model
    num_threads: int = DEFAULT_THREADS
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    segment: SegmentParams = DEFAULT_PARAMS
    looks: int = 1  # 1: read the frame once (live video); up to MAX_LOOKS: read a still's number again (views.py)

    def __post_init__(self) -> None:
        if self.model is not None and not isinstance(self.model, Path):
            object.__setattr__(self, "model", Path(self.model))
        if isinstance(self.num_threads, bool) or not isinstance(self.num_threads, int) or self.num_threads < 1:
            raise ValueError(f"interpreter threads must be a whole number >= 1, got {self.num_threads!r}")
        if isinstance(self.looks, bool) or not isinstance(self.looks, int) or not 1 <= self.looks <= MAX_LOOKS:
            raise ValueError(f"looks must be a whole number from 1 to {MAX_LOOKS}, got {self.looks!r}")
        if not 0.0 <= float(self.min_confidence) <= 1.0:
            raise ValueError(f"minimum confidence must be between 0 and 1, got {self.min_confidence!r}")
