"""The scene generator: reproducible, ground truth consistent with the picture, files written whole."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "tests" / "data" / "mnist_subset.npz"


@pytest.fixture(scope="module")
def digits(mnist_small):
    return mnist_small["x_test"], mnist_small["y_test"], np.arange(len(mnist_small["x_test"]))


def test_a_scene_depends_only_on_seed_and_index(make_scenes, digits):
    settings = make_scenes.SceneSettings()
    first = make_scenes.make_scene(5, 3, (640, 480), *digits, settings)
    again = make_scenes.make_scene(5, 3, (640, 480), *digits, settings)
    other = make_scenes.make_scene(5, 4, (640, 480), *digits, settings)
    assert first[0] == again[0] and first[1] == again[1]
    assert first[0] != other[0]


def test_truth_matches_the_picture(make_scenes, digits):
    images, labels, pool = digits
    settings = make_scenes.SceneSettings()
    for index in range(6):
        jpeg, truth = make_scenes.make_scene(9, index, (640, 480), images, labels, pool, settings)
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert frame.shape == (480, 640)
        assert 1 <= len(truth["digits"]) <= 8
        assert truth["text"] == " ".join(truth["lines"])
        assert "".join(truth["lines"]) == "".join(str(d["digit"]) for d in truth["digits"])
        for d in truth["digits"]:
            assert int(labels[d["mnist_test_index"]]) == d["digit"]
            x, y, w, h = d["box"]
            assert x > 0 and y > 0 and x + w < 640 and y + h < 480  # never cut off
            ink = frame[y : y + h, x : x + w]
            paper = np.median(frame[max(0, y - 15) : y + h + 15, max(0, x - 15) : x + w + 15])
            assert ink.min() < paper - 25  # dark ink where the box says
        lines = [[d for d in truth["digits"] if d["line"] == k] for k in range(len(truth["lines"]))]
        for line in lines:  # left to right, not touching
            for a, b in itertools.pairwise(line):
                assert a["box"][0] + a["box"][2] <= b["box"][0] + 2


def test_command_line_writes_images_labels_and_settings(make_scenes, tmp_path):
    out = tmp_path / "scenes"
    code = make_scenes.main(
        ["--count", "3", "--seed", "2", "--out", str(out), "--mnist", str(SUBSET), "--size", "320x240"]
    )
    assert code == 0
    meta = json.loads((out / "scenes.json").read_text())
    assert meta["seed"] == 2 and meta["count"] == 3 and meta["size"] == [320, 240]
    assert "digit_height" in meta["settings"]
    with open(out / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == [s["file"] for s in meta["scenes"]]
    assert [r["text"] for r in rows] == [s["text"] for s in meta["scenes"]]
    for row in rows:
        assert cv2.imread(str(out / row["file"])).shape == (240, 320, 3)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_a_clip_keeps_the_same_sheet_in_every_frame(make_scenes, digits):
    frames, truth = make_scenes.make_clip(4, (320, 240), *digits, make_scenes.SceneSettings(), frames=4)
    assert len(frames) == 4 and all(f.shape == (240, 320, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # the camera moved
    assert truth["text"]


def test_bad_arguments_are_refused(make_scenes, tmp_path, capsys):
    with pytest.raises(SystemExit):
        make_scenes.main(["--count", "1", "--out", str(tmp_path), "--size", "big"])
    assert make_scenes.main(["--count", "1", "--out", str(tmp_path), "--mnist", str(tmp_path / "no.npz")]) == 2
    assert "cannot read MNIST" in capsys.readouterr().err
