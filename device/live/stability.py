"""Readings that hold still: a live reading is reported once it has been the same for a few frames.

A camera sees the same sheet many times a second; single frames flicker (a digit missed in one,
a motion-blurred frame in another). ``StableReading`` reports a reading only after it has been
seen in ``frames`` consecutive frames, so headless output and logs change when the paper does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

DEFAULT_STABLE_FRAMES = 5


@dataclass
class StableReading:
    """Feed one reading per frame with ``update``; ``value`` is the last reading that held still."""

    frames: int = DEFAULT_STABLE_FRAMES
    value: str | None = None  # the current stable reading ("" = nothing written), None before the first
    _recent: deque[str] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError("frames must be >= 1")
        self._recent = deque(maxlen=self.frames)

    def update(self, reading: str) -> bool:
        """Record this frame's reading; True when the stable reading has just changed."""
        self._recent.append(reading)
        held = len(self._recent) == self.frames and all(r == reading for r in self._recent)
        if held and reading != self.value:
            self.value = reading
            return True
        return False

    def skip(self) -> None:
        """A frame that could not be read: it breaks the run of equal readings."""
        self._recent.clear()


class FpsMeter:
    """Frames per second averaged over the last ``window`` frames."""

    def __init__(self, window: int = 10) -> None:
        self._times: deque[float] = deque(maxlen=window + 1)

    def tick(self, now: float) -> float | None:
        """Record a frame's time (seconds); the average rate so far, None until two frames."""
        self._times.append(now)
        if len(self._times) < 2:
            return None
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else None
