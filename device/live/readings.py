"""Stable readings as data: ``--output jsonl[:FILE]``, one JSON object per line, for meters and forms.

Each new stable reading becomes one line, the project's one reading record
(``device.recognition.records``)::

    {"time": "2025-05-20T14:03:07.412+02:00", "reading": "407",
     "digits": [{"digit": 4, "confidence": 0.998, "box": [112, 80, 40, 66], "line": 0}, ...]}

A file is
opened with O_APPEND and every line goes out in a single write, so lines from this process are never
interleaved or half-written, and a file that other loggers append to stays line-aligned.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from device.live.loop import NewReadingSink
from device.recognition.records import reading_record

OUTPUT_FORMATS = ("jsonl",)
STDOUT = "-"


class ReadingsError(Exception):
    """One-line, user-facing problem (bad --output value, file not writable)."""


@dataclass(frozen=True)
class OutputSpec:
    """What ``--output`` asked for: a format, and a file path or None for standard output."""

    format: str
    path: Path | None


def parse_output_spec(text: str) -> OutputSpec:
    """``jsonl``, ``jsonl:-`` (standard output) or ``jsonl:FILE`` -> OutputSpec; ValueError otherwise."""
    fmt, sep, target = text.partition(":")
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"{text!r}: expected jsonl or jsonl:FILE")
    if sep and not target:
        raise ValueError(f"{text!r}: missing file name after 'jsonl:'")
    return OutputSpec(fmt, None if not sep or target == STDOUT else Path(target))


class JsonlReadings(NewReadingSink):
    """Sink that writes each new stable reading as one JSON line to a file (appended) or stdout.

    Use as ``sink(annotated_frame, detections, stable_reading)`` every frame: it writes when the
    stable reading changes to a new non-empty value (a reading that disappears and comes back is
    written again). ``write`` logs one reading directly.
    """

    def __init__(self, path: str | Path | None = None, *, fsync: bool = False, stream: TextIO | None = None):
        self.path = None if path in (None, STDOUT) else Path(path)  # type: ignore[arg-type]
        self.fsync = fsync
        self._stream = stream
        self._fd: int | None = None
        self.lines_written = 0
        if self.path is not None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise ReadingsError(f"cannot append readings to {self.path}: {err.strerror}") from None

    @classmethod
    def from_spec(cls, spec: OutputSpec | str, **kwargs: Any) -> JsonlReadings:
        """A sink for a parsed or raw ``--output`` value."""
        spec = parse_output_spec(spec) if isinstance(spec, str) else spec
        return cls(spec.path, **kwargs)

    def write(self, reading: str, detections: Sequence[Any] = (), when: dt.datetime | None = None) -> dict:
        """Append one reading now; returns the record written."""
        record = reading_record(reading, detections, when)
        line = json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n"
        if self._fd is not None:
            self._write_fd(line.encode("utf-8"))
        else:
            stream = self._stream or sys.stdout
            stream.write(line)
            stream.flush()
        self.lines_written += 1
        return record

    def _write_fd(self, data: bytes) -> None:
        # One write call: with O_APPEND the kernel places it at the end in one piece. The loop only
        # matters if a disk fills mid-line; the rest is then retried rather than silently dropped.
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(self._fd)
        except OSError as err:
            raise ReadingsError(f"cannot append readings to {self.path}: {err.strerror}") from None

    def on_reading(self, text: str, detections: Sequence[Any]) -> None:
        self.write(text, detections)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonlReadings:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
