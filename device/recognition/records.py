"""A reading as data: the one JSON shape of ``device read --json``, ``--output jsonl`` and the web view.

    {"time": "2025-05-20T14:03:07.412+02:00", "reading": "18014", "text": "18.014",
     "digits": [{"digit": 1, "confidence": 0.998, "box": [112, 80, 40, 66], "line": 0}, ...]}

``box`` is x, y, width, height in frame pixels and ``line`` the line of text (0 = top); lines of text
in ``reading`` are separated by a space. ``reading`` holds only digits; ``text`` is the reading as written, with
the separators found between digits (``.`` ``,`` ``-``; ``device.recognition.separators``), and the same as
``reading`` when there are none. A digit that comes after a separator has ``"separator_before"``.
Each use adds its own context around the record: the file
(``read``), or the frame number and what the current frame shows (the web view).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from device.recognition.recognizer import Detection, reading_string, written_text


def detection_record(detection: Detection) -> dict[str, Any]:
    """One detection as plain JSON types."""
    record: dict[str, Any] = {
        "digit": int(detection.digit),
        "confidence": round(float(detection.confidence), 4),
        "box": [int(v) for v in detection.box],
        "line": int(getattr(detection, "line", 0)),
    }
    separator = getattr(detection, "separator_before", "")
    if separator:
        record["separator_before"] = str(separator)
    return record


def reading_record(
    reading: str | None, detections: Sequence[Detection] = (), when: dt.datetime | None = None
) -> dict[str, Any]:
    """The record of ``reading`` (None: nothing read yet) and the detections that spell it.

    ``digits`` lists the detections only when they spell the reading; otherwise it is empty rather
    than wrong (a reading logged through the API with another frame's detections, say).
    """
    when = when or dt.datetime.now(dt.UTC)
    spelled = "".join(str(int(d.digit)) for d in detections)
    matching = detections if reading is not None and spelled == "".join(reading.split()) else ()
    return {
        "time": when.astimezone().isoformat(timespec="milliseconds"),
        "reading": reading,
        "text": written_text(matching) if matching else reading,
        "digits": [detection_record(d) for d in matching],
    }


def detections_record(detections: Sequence[Detection], when: dt.datetime | None = None) -> dict[str, Any]:
    """The record of what one frame shows: its reading (``reading_string``) and all its detections."""
    return reading_record(reading_string(detections), detections, when)


def reading_text(stable_reading: Any) -> str | None:
    """A reading as text, or None: accepts None, a str, or an object with ``.text`` (``live.loop.Reading``)."""
    if stable_reading is None:
        return None
    text = getattr(stable_reading, "text", stable_reading)
    return None if text is None else str(text)


def reading_detections(stable_reading: Any) -> Sequence[Detection]:
    """The detections that come with a reading object (``.detections``), else none."""
    return tuple(getattr(stable_reading, "detections", ()) or ())
