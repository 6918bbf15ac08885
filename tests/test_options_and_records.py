"""Reading options stated once (the CLI and the API take the same defaults) and one record of a reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device import ReadOptions, Recognizer
from device.cli import build_parser, main
from device.live.readings import JsonlReadings
from device.live.web import view_record
from device.recognition.recognizer import Detection
from device.recognition.records import detections_record, reading_record

SAMPLE = Path(__file__).resolve().parents[1] / "device" / "samples" / "sample_02.jpg"
RECORD_KEYS = {"time", "reading", "text", "digits"}
DIGIT_KEYS = {"digit", "confidence", "box", "line"}
FOUR_TWO = [Detection((10, 20, 30, 40), 4, 0.97), Detection((50, 20, 30, 40), 2, 0.91)]


def test_the_cli_defaults_are_the_options_defaults() -> None:
    defaults = ReadOptions()
    for command in ("read", "live", "bench"):
        args = build_parser().parse_args([command, *(["x.jpg"] if command == "read" else [])])
        assert args.threads == defaults.num_threads
        assert args.min_confidence == defaults.min_confidence
        assert args.model is None and defaults.model is None


def test_recognizer_takes_options_and_keyword_overrides() -> None:
    rec = Recognizer(options=ReadOptions(num_threads=2, min_confidence=0.9))
    assert rec.min_confidence == 0.9 and rec.model.num_threads == 2
    rec = Recognizer(min_confidence=0.25)
    assert rec.options == ReadOptions(min_confidence=0.25)
    assert rec.model.num_threads == ReadOptions().num_threads


@pytest.mark.parametrize(("field", "value", "message"),
                         [("num_threads", 0, "threads"), ("min_confidence", 1.5, "confidence")])
def test_options_out_of_range_name_the_value_not_a_flag(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        ReadOptions(**{field: value})
    assert "--" not in str(info.value)


def test_read_json_jsonl_and_the_web_view_share_one_record(tmp_path: Path, capsys) -> None:
    assert main(["read", "--json", str(SAMPLE)]) == 0
    document = json.loads(capsys.readouterr().out)[0]
    assert set(document) == RECORD_KEYS | {"file"}
    assert all(set(d) == DIGIT_KEYS for d in document["digits"]) and document["digits"]

    with JsonlReadings(tmp_path / "r.jsonl") as sink:
        line = sink.write("42", FOUR_TWO)
    assert set(line) == RECORD_KEYS and [set(d) for d in line["digits"]] == [DIGIT_KEYS] * 2

    served = view_record(FOUR_TWO, None, 7)
    assert set(served) == RECORD_KEYS | {"frame", "current"}
    assert set(served["current"]) == RECORD_KEYS and served["current"]["reading"] == "42"


def test_digits_are_listed_only_when_they_spell_the_reading() -> None:
    assert [d["digit"] for d in reading_record("42", FOUR_TWO)["digits"]] == [4, 2]
    assert reading_record("43", FOUR_TWO)["digits"] == []
    assert reading_record(None)["reading"] is None
    two_lines = [FOUR_TWO[0], Detection((50, 90, 30, 40), 2, 0.91, line=1)]
    assert detections_record(two_lines)["reading"] == "4 2"
