"""Separators between digit groups (a point, a comma, a dash): found, kept out of the digits, in every output."""

from __future__ import annotations

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.cli import main
from device.live.loop import Reading
from device.live.readings import JsonlReadings
from device.live.web import view_record
from device.recognition.recognizer import Detection, reading_string, written_text
from device.recognition.separators import shape_of


def first_of_each(mnist: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    return {d: mnist["x_test"][int(np.flatnonzero(mnist["y_test"] == d)[0])] for d in range(10)}


def written_page(mnist: dict[str, np.ndarray], text: str, height: int = 60, gap: int = 14) -> np.ndarray:
    """A 640x480 page with ``text`` written: MNIST test digits ``height`` px tall, and drawn separators."""
    digits = first_of_each(mnist)
    page = np.full((480, 640), 235, np.uint8)
    x, top, pen = 80, 200, max(2, height // 14)
    for ch in text:
        if ch.isdigit():
            digit = digits[int(ch)]
            ys, xs = np.nonzero(digit > 40)
            digit = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            width = max(1, round(digit.shape[1] * height / digit.shape[0]))
            ink = cv2.resize(digit, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
            region = page[top : top + height, x : x + width].astype(np.float32)
            page[top : top + height, x : x + width] = np.clip(region * (1 - 0.85 * ink), 0, 255).astype(np.uint8)
            x += width + gap
        elif ch == ".":
            cv2.circle(page, (x + 3, top + height - pen - 2), pen, 30, -1)
            x += 10 + gap
        elif ch == ",":
            cv2.line(page, (x + 5, top + height - pen - 2), (x + 2, top + height + height // 6), 30, pen)
            x += 10 + gap
        elif ch == "-":
            cv2.line(page, (x, top + height // 2), (x + height // 2, top + height // 2), 30, max(2, height // 12))
            x += height // 2 + gap
    return page


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.mark.parametrize("text", ["18.014", "1,250", "3-14", "12.5,7", "9.99", "407"])
@pytest.mark.parametrize("height", [40, 60])
def test_separators_are_found_and_kept_out_of_the_digits(recognizer, mnist_small, text, height):
    found = recognizer.read(written_page(mnist_small, text, height))
    assert reading_string(found) == "".join(ch for ch in text if ch.isdigit())
    assert written_text(found) == text


def test_shapes_of_separators():
    @dataclass
    class Mark:
        x0: int
        y0: int
        x1: int
        y1: int

    top, bottom = 100, 160  # digits 60 px tall
    assert shape_of(Mark(0, 150, 8, 158), top, bottom) == "."
    assert shape_of(Mark(0, 150, 8, 172), top, bottom) == ","
    assert shape_of(Mark(0, 127, 30, 133), top, bottom) == "-"
    assert shape_of(Mark(0, 102, 8, 110), top, bottom) is None  # a dot at the top: not a decimal point
    assert shape_of(Mark(0, 100, 10, 160), top, bottom) is None  # as tall as a digit
    assert shape_of(Mark(0, 150, 30, 156), top, bottom) is None  # an underscore, not a dash


def test_a_separator_before_the_first_digit_read_is_left_out():
    digits = [Detection((0, 0, 9, 9), 1, 0.9, 0, "."), Detection((10, 0, 9, 9), 2, 0.9, 0, ",")]
    assert written_text(digits) == "1,2" and reading_string(digits) == "12"


def test_device_read_prints_the_text_and_json_has_reading_text_and_separators(mnist_small, tmp_path, capsys):
    image = tmp_path / "amount.png"
    cv2.imwrite(str(image), written_page(mnist_small, "18.014"))
    assert main(["read", str(image)]) == 0
    assert capsys.readouterr().out == f"{image}: 18.014\n"
    assert main(["read", "--json", str(image)]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    assert record["reading"] == "18014" and record["text"] == "18.014"
    assert [d.get("separator_before", "") for d in record["digits"]] == ["", "", ".", "", ""]


def test_jsonl_and_the_web_view_carry_the_text(recognizer, mnist_small, tmp_path):
    found = recognizer.read(written_page(mnist_small, "3-14"))
    with JsonlReadings(tmp_path / "r.jsonl") as sink:
        line = sink.write(reading_string(found), found)
    assert line["reading"] == "314" and line["text"] == "3-14"
    assert json.loads((tmp_path / "r.jsonl").read_text())["text"] == "3-14"
    served = view_record(found, Reading(reading_string(found), tuple(found)), 5)
    assert served["text"] == "3-14" and served["current"]["text"] == "3-14" and served["reading"] == "314"
