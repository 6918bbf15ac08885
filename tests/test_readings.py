"""--output jsonl: one parseable JSON object per new stable reading, appended safely."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from pathlib import Path
from typing import NamedTuple

import pytest

from device.live.readings import JsonlReadings, OutputSpec, ReadingsError, parse_output_spec


class FakeDetection(NamedTuple):
    box: tuple[int, int, int, int]
    digit: int
    confidence: float


FOUR_O_SEVEN = [
    FakeDetection((112, 80, 40, 66), 4, 0.998),
    FakeDetection((160, 78, 38, 70), 0, 0.97),
    FakeDetection((205, 81, 41, 64), 7, 0.991),
]


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jsonl", OutputSpec("jsonl", None)),
        ("jsonl:-", OutputSpec("jsonl", None)),
        ("jsonl:/var/log/meter.jsonl", OutputSpec("jsonl", Path("/var/log/meter.jsonl"))),
        ("jsonl:C:/x.jsonl", OutputSpec("jsonl", Path("C:/x.jsonl"))),
    ],
)
def test_output_spec_names_stdout_or_a_file(text: str, expected: OutputSpec) -> None:
    assert parse_output_spec(text) == expected


@pytest.mark.parametrize("text", ["csv", "json", "", "jsonl:"])
def test_output_spec_rejects_other_formats(text: str) -> None:
    with pytest.raises(ValueError, match="jsonl"):
        parse_output_spec(text)


def test_each_new_stable_reading_is_one_parseable_line(tmp_path: Path) -> None:
    log = tmp_path / "meter.jsonl"
    with JsonlReadings(log) as sink:
        for stable in [None, "407", "407", "407", None, "407", "408"]:
            sink(object(), FOUR_O_SEVEN if stable == "407" else [], stable)
    records = lines_of(log)
    # Repeats of a stable reading are one line; a reading that went away and came back is a new one.
    assert [r["reading"] for r in records] == ["407", "407", "408"]
    first = records[0]
    assert [d["confidence"] for d in first["digits"]] == [0.998, 0.97, 0.991]
    assert [d["box"] for d in first["digits"]] == [[112, 80, 40, 66], [160, 78, 38, 70], [205, 81, 41, 64]]
    assert [d["digit"] for d in first["digits"]] == [4, 0, 7]
    assert dt.datetime.fromisoformat(first["time"]).tzinfo is not None
    # Detections that do not spell the reading give no confidences rather than wrong ones.
    assert records[2]["digits"] == []


def test_file_is_appended_never_truncated(tmp_path: Path) -> None:
    log = tmp_path / "meter.jsonl"
    log.write_text('{"earlier": true}\n')
    with JsonlReadings(log) as sink:
        sink.write("12", [])
    with JsonlReadings(log) as sink:
        sink.write("13", [])
    records = lines_of(log)
    assert records[0] == {"earlier": True}
    assert [r["reading"] for r in records[1:]] == ["12", "13"]


def test_concurrent_writers_to_one_file_never_mix_lines(tmp_path: Path) -> None:
    log = tmp_path / "shared.jsonl"
    long_reading = "1234567890" * 40  # long lines make any interleaving visible

    def writer(count: int) -> None:
        with JsonlReadings(log) as sink:
            for _ in range(count):
                sink.write(long_reading, [])

    threads = [threading.Thread(target=writer, args=(100,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = lines_of(log)
    assert len(records) == 400
    assert all(r["reading"] == long_reading for r in records)


def test_stdout_gets_the_same_lines() -> None:
    out = io.StringIO()
    sink = JsonlReadings.from_spec("jsonl", stream=out)
    sink(None, FOUR_O_SEVEN, "407")
    record = json.loads(out.getvalue())
    assert record["reading"] == "407"
    assert out.getvalue().count("\n") == 1


def test_reading_objects_with_text_and_their_own_detections_are_accepted(tmp_path: Path) -> None:
    class Stable(NamedTuple):
        text: str
        detections: list

    log = tmp_path / "r.jsonl"
    with JsonlReadings(log) as sink:
        sink(None, [], Stable("407", FOUR_O_SEVEN))
    assert [d["confidence"] for d in lines_of(log)[0]["digits"]] == [0.998, 0.97, 0.991]


def test_multi_line_readings_keep_their_confidences(tmp_path: Path) -> None:
    class Stable(NamedTuple):
        text: str
        detections: list

    log = tmp_path / "r.jsonl"
    with JsonlReadings(log) as sink:
        sink(None, [], Stable("40 7", FOUR_O_SEVEN))  # two lines of text on the sheet
    record = lines_of(log)[0]
    assert record["reading"] == "40 7"
    assert [d["confidence"] for d in record["digits"]] == [0.998, 0.97, 0.991]


def test_the_log_needs_no_annotated_picture() -> None:
    assert JsonlReadings.wants_frame is False


def test_unwritable_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ReadingsError, match=r"cannot append readings to .*missing") as info:
        JsonlReadings(tmp_path / "missing" / "r.jsonl")
    assert "\n" not in str(info.value)
