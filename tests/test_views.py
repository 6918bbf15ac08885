"""More than one look at a still image (device/recognition/views.py) and the recogniser's ``looks`` option."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from device.cli import main
from device.common.images import read_image
from device.recognition import views
from device.recognition.options import ReadOptions
from device.recognition.placement import CANVAS, analysed_image, place_cutout
from device.recognition.recognizer import Recognizer, _rejection_in_frame, reading_string
from device.recognition.rejections import LOW_CONFIDENCE, TOO_SMALL, Rejection
from device.recognition.segment import DEFAULT_PARAMS
from device.tools.strings_eval import iou

SAMPLES = Path(__file__).resolve().parent.parent / "device" / "samples"


@dataclass(frozen=True)
class _Look:
    box: tuple[int, int, int, int]
    digit: int
    confidence: float
    line: int = 0


def _look(text: str, confidence: float) -> list[_Look]:
    return [_Look((10 * i, 0, 8, 10), int(c), confidence) for i, c in enumerate(text)]


def _agreed(looks: list[list[_Look]]) -> int:
    return views.agreed(looks, [reading_string(look) for look in looks])


def test_the_reading_most_looks_give_wins_and_comes_from_the_first_look_that_gives_it():
    looks = [_look("123", 0.99), _look("128", 0.6), _look("128", 0.7)]
    assert _agreed(looks) == 1
    assert _agreed([_look("128", 0.6), _look("123", 0.99), _look("128", 0.7)]) == 0


def test_between_as_many_votes_the_surer_reading_wins():
    assert _agreed([_look("123", 0.8), _look("128", 0.9)]) == 1
    assert _agreed([_look("123", 0.8), _look("128", 0.7), _look("5", 0.95)]) == 2
    assert _agreed([_look("123", 0.8), _look("128", 0.8)]) == 0  # equals: the image as it is


def test_a_look_that_found_nothing_has_no_vote():
    assert _agreed([_look("123", 0.6), [], []]) == 0
    assert _agreed([[], [], []]) == 0


def test_the_digits_region_has_a_margin_and_stays_inside_the_image():
    found = [_Look((20, 30, 10, 20), 1, 1.0), _Look((40, 32, 12, 18), 2, 1.0)]
    margin = round(views.REGION_MARGIN * 20)
    assert views.digits_region(found, (100, 200)) == (20 - margin, 30 - margin, 32 + 2 * margin, 20 + 2 * margin)
    assert views.digits_region(found, (45, 45)) == (20 - margin, 30 - margin, 45 - (20 - margin), 45 - (30 - margin))
    assert views.digits_region([], (100, 200)) is None


def test_a_box_on_flat_paper_maps_back_onto_the_region():
    crop = np.full((40, 120), 200, np.uint8)
    crop[10:30, 50:60] = 20
    frame, placement = place_cutout(crop, views.FLAT_HEIGHT, flat=True)
    scale, (ox, oy) = placement.scale, placement.offset
    assert frame.shape == (CANVAS[1], CANVAS[0]) and frame.dtype == np.uint8
    assert round(40 * scale) == views.FLAT_HEIGHT
    assert frame[0, 0] == 200  # the crop's own paper grey
    box_in_frame = (round(ox + 50 * scale), round(oy + 10 * scale), round(10 * scale), round(20 * scale))
    region = (300, 100, 120, 40)  # where the crop was cut from
    assert views.shifted(placement.to_frame(box_in_frame), region[:2]) == (350, 110, 10, 20)


def test_as_cutout_places_any_image_as_a_cut_out_of_the_asked_height():
    wide = np.full((200, 900), 230, np.uint8)  # a camera frame's size, never a cut-out by default
    assert analysed_image(wide, DEFAULT_PARAMS)[0].shape == wide.shape
    placed, placement = analysed_image(wide, views.as_cutout(DEFAULT_PARAMS, 120))
    assert placed.shape == (CANVAS[1], CANVAS[0])
    assert placement.frame_size == (900, 200)


@pytest.mark.parametrize("looks", [0, views.MAX_LOOKS + 1, True, 1.5])
def test_looks_out_of_range_are_refused(looks):
    with pytest.raises(ValueError, match="looks"):
        ReadOptions(looks=looks)


def _samples() -> list[tuple[str, str]]:
    with open(SAMPLES / "labels.csv", newline="") as f:
        return [(row["file"], row["text"]) for row in csv.DictReader(f) if row["file"].endswith(".jpg")]


@pytest.mark.parametrize("looks", [views.LOOKS, views.MAX_LOOKS])
def test_more_looks_read_every_bundled_sample_and_report_boxes_inside_the_frame(looks):
    one, three = Recognizer(), Recognizer(options=ReadOptions(looks=looks))
    for name, text in _samples():
        image = read_image(SAMPLES / name)
        found = three.read(image)
        assert reading_string(found) == text, name
        h, w = image.shape[:2]
        for d in found:
            x, y, bw, bh = d.box
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
        if " " in text:  # several lines: read once, as one look reads them
            assert found == one.read(image)


def _counting_looks(monkeypatch, disagree: bool = False) -> list[tuple[bytes, int]]:
    """Record every look the recogniser takes (its frame and cut-out text height); with ``disagree``, each
    look after the first reads its first digit as the look's number, so that no two looks agree."""
    seen: list[tuple[bytes, int]] = []
    real = Recognizer._look

    def counted(self, frame, params, *rest):
        seen.append((frame.tobytes(), params.cutout_text_height))
        found = real(self, frame, params, *rest)
        if disagree and len(seen) > 1 and found:
            found[0] = replace(found[0], digit=len(seen))
        return found

    monkeypatch.setattr(Recognizer, "_look", counted)
    return seen


@pytest.mark.parametrize("looks", range(1, views.MAX_LOOKS + 1))
def test_looks_stop_once_the_first_three_agree(monkeypatch, looks):
    seen = _counting_looks(monkeypatch)
    rec = Recognizer(options=ReadOptions(looks=looks))
    assert reading_string(rec.read(read_image(SAMPLES / "sample_01.jpg"))) == "827"
    assert len(seen) == min(looks, views.SETTLED_AFTER) and len(set(seen)) == len(seen)


def test_looks_that_disagree_go_on_to_the_last_each_view_once(monkeypatch):
    seen = _counting_looks(monkeypatch, disagree=True)
    Recognizer(options=ReadOptions(looks=views.MAX_LOOKS)).read(read_image(SAMPLES / "sample_01.jpg"))
    assert len(seen) == views.MAX_LOOKS and len(set(seen)) == views.MAX_LOOKS  # every look a different view


def test_settled_means_the_first_looks_all_read_the_same_number():
    assert views.settled(["827"] * views.SETTLED_AFTER)
    assert not views.settled(["827"] * (views.SETTLED_AFTER - 1))
    assert not views.settled(["827", "827", "821"])
    assert not views.settled(["827", "827", "827", "821"])  # a look disagreed: all the rest are taken
    assert not views.settled(["", "", ""])


def test_the_views_alternate_cut_outs_and_plain_paper_at_different_sizes():
    assert len(set(views.VIEWS)) == len(views.VIEWS) == views.MAX_LOOKS - 1
    assert [v.flat for v in views.VIEWS[:4]] == [False, True, False, True]
    assert views.LOOKS <= views.MAX_LOOKS


def test_three_looks_of_a_blank_or_odd_frame_read_nothing_without_error():
    rec = Recognizer(options=ReadOptions(looks=3))
    assert rec.read(np.full((480, 640), 235, np.uint8)) == []
    assert rec.read(np.zeros((5, 5, 3), np.uint8)) == []
    found, rejected = rec.read_with_rejections(np.full((480, 640), 235, np.uint8))
    assert found == [] and rejected == []


def test_device_read_takes_looks_and_refuses_a_wrong_count(capsys):
    sample = str(SAMPLES / "sample_01.jpg")
    assert main(["read", "--looks", "1", sample]) == 0
    assert capsys.readouterr().out.strip().endswith(": 827")
    with pytest.raises(SystemExit) as stop:
        main(["read", "--looks", "0", sample])
    assert stop.value.code == 2
    assert f"--looks: expected a whole number from 1 to {views.MAX_LOOKS}" in capsys.readouterr().err


def test_rejections_are_those_of_the_look_reported_in_the_frames_pixels(monkeypatch):
    """When a later look's reading wins, ``read_with_rejections`` lists what that look left out (``-v``), so
    that a digit missing from the reading shown is explained there; its box in the frame's pixels."""
    real = Recognizer._look
    taken: list[int] = []

    def drops_the_last_digit_after_the_first_look(self, frame, params, min_confidence, timings, rejections):
        found = real(self, frame, params, min_confidence, timings, rejections)
        taken.append(len(found))
        if len(taken) == 1:
            return found
        if rejections is not None:
            rejections[:] = [Rejection(found[-1].box, TOO_SMALL, 10.0)]
        return found[:-1]

    image = read_image(SAMPLES / "sample_01.jpg")
    seven = Recognizer().read(image)[-1]
    monkeypatch.setattr(Recognizer, "_look", drops_the_last_digit_after_the_first_look)
    found, rejected = Recognizer(options=ReadOptions(looks=3)).read_with_rejections(image)
    assert reading_string(found) == "82"  # two looks of three: the cut-out's, the first that gives it
    assert len(rejected) == 1 and rejected[0].reason == TOO_SMALL
    assert rejected[0].limit == 10.0  # the cut-out is read in the region's own pixels: nothing to scale
    assert iou(rejected[0].box, seven.box) > 0.7  # the 7 that the first look read, where it is in the frame


def test_a_rejection_on_plain_paper_maps_back_with_its_height_bound():
    crop = np.full((40, 120), 200, np.uint8)
    _, placement = place_cutout(crop, views.FLAT_HEIGHT, flat=True)
    scale, (ox, oy) = placement.scale, placement.offset
    box = (round(ox + 50 * scale), round(oy + 10 * scale), round(10 * scale), round(20 * scale))
    small = _rejection_in_frame(Rejection(box, TOO_SMALL, 5 * scale), placement, (300, 100))
    assert small.box == (350, 110, 10, 20) and small.limit == pytest.approx(5.0)
    unsure = _rejection_in_frame(Rejection(box, LOW_CONFIDENCE, 0.4, 7, 0.3), placement, (300, 100))
    assert unsure.box == (350, 110, 10, 20) and unsure.limit == 0.4  # a confidence threshold is no length
