"""Command-line value types shared by ``train``, ``convert`` and ``device`` (argparse ``type=`` callables).

Each raises ``argparse.ArgumentTypeError``, which argparse turns into a one-line usage error (exit code 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def _number(text: str, kind: type[int] | type[float], expected: str, ok: Callable[[float], bool]) -> Any:
    """``text`` as ``kind``; ArgumentTypeError("expected <expected>, got ...") when unparsable or not ``ok``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _number(text, int, "a whole number >= 1", lambda v: v >= 1)


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type=``: a whole number from ``low`` to ``high``."""

    def convert(text: str) -> int:
        return _number(text, int, f"a whole number from {low} to {high}", lambda v: low <= v <= high)

    convert.__name__ = f"int_between_{low}_{high}"
    return convert


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _number(text, float, "a number > 0", lambda v: 0 < v < math.inf)


def fraction(text: str) -> float:
    """A number from 0 to 1 (a probability, a confidence)."""
    return _number(text, float, "a number between 0 and 1", lambda v: 0.0 <= v <= 1.0)


def parsed_by(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type=`` from a parser that raises ValueError: argparse then shows its one-line message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def frame_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT``, e.g. 640x480, at least 16 pixels each way."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"size {w}x{h} is too small")
    return w, h
