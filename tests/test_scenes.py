"""The scene generator: reproducible, ground truth consistent with the picture, files written whole."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from train import scenes

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "tests" / "data" / "mnist_subset.npz"


@pytest.fixture(scope="module")
def digits(mnist_small):
    return mnist_small["x_test"], mnist_small["y_test"], np.arange(len(mnist_small["x_test"]))


def test_a_scene_depends_only_on_seed_and_index(digits):
    settings = scenes.SceneSettings()
    first = scenes.make_scene(5, 3, (640, 480), *digits, settings)
    again = scenes.make_scene(5, 3, (640, 480), *digits, settings)
    other = scenes.make_scene(5, 4, (640, 480), *digits, settings)
    assert first[0] == again[0] and first[1] == again[1]
    assert first[0] != other[0]


def test_truth_matches_the_picture(digits):
    images, labels, pool = digits
    settings = scenes.SceneSettings()
    for index in range(6):
        jpeg, truth = scenes.make_scene(9, index, (640, 480), images, labels, pool, settings)
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert frame.shape == (480, 640)
        assert 1 <= len(truth["digits"]) <= 8
        assert truth["text"] == " ".join(truth["lines"])
        assert "".join(truth["lines"]) == "".join(str(d["digit"]) for d in truth["digits"])
        for d in truth["digits"]:
            assert int(labels[d["mnist_index"]]) == d["digit"]
            x, y, w, h = d["box"]
            assert x > 0 and y > 0 and x + w < 640 and y + h < 480  # never cut off
            ink = frame[y : y + h, x : x + w]
            paper = np.median(frame[max(0, y - 15) : y + h + 15, max(0, x - 15) : x + w + 15])
            assert ink.min() < paper - 25  # dark ink where the box says
        lines = [[d for d in truth["digits"] if d["line"] == k] for k in range(len(truth["lines"]))]
        for line in lines:  # left to right, not touching
            for a, b in itertools.pairwise(line):
                assert a["box"][0] + a["box"][2] <= b["box"][0] + 2


def test_command_line_writes_images_labels_and_settings(tmp_path):
    out = tmp_path / "scenes"
    code = scenes.main(
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


def test_a_clip_keeps_the_same_sheet_in_every_frame(digits):
    frames, truth = scenes.make_clip(4, (320, 240), *digits, scenes.SceneSettings(), frames=4)
    assert len(frames) == 4 and all(f.shape == (240, 320, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # the camera moved
    assert truth["text"]


def test_bad_arguments_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        scenes.main(["--count", "1", "--out", str(tmp_path), "--size", "big"])
    assert scenes.main(["--count", "1", "--out", str(tmp_path), "--mnist", str(tmp_path / "no.npz")]) == 2
    assert "cannot read MNIST" in capsys.readouterr().err


def test_video_writes_the_clip_and_its_truth(tmp_path, capsys):
    video = tmp_path / "clip.avi"
    assert scenes.main(["--video", str(video), "--frames", "3", "--size", "320x240", "--mnist", str(SUBSET)]) == 0
    meta = json.loads((tmp_path / "clip.avi.json").read_text())
    assert meta["frames"] == 3 and meta["text"] in capsys.readouterr().out
    capture = cv2.VideoCapture(str(video))
    assert capture.read()[0]
    capture.release()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert scenes.main(["--video", str(tmp_path / "none" / "clip.avi"), "--mnist", str(SUBSET)]) == 2
    assert "cannot write" in capsys.readouterr().err  # one line, no traceback


def test_script_and_module_run_the_same_command_without_loading_tensorflow(tmp_path):
    # The script is a thin wrapper; importing the package must stay cheap (no TensorFlow or Keras).
    common = ["--count", "1", "--seed", "3", "--size", "160x120", "--mnist", str(SUBSET)]
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_scenes.py"), *common, "--out", str(tmp_path / "a")],
                   check=True, capture_output=True, cwd=tmp_path)
    done = subprocess.run([sys.executable, "-m", "train.scenes", *common, "--out", str(tmp_path / "b")],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a" / "labels.csv").read_bytes() == (tmp_path / "b" / "labels.csv").read_bytes()
    assert (tmp_path / "a" / "scene_00000.jpg").read_bytes() == (tmp_path / "b" / "scene_00000.jpg").read_bytes()
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, train.scenes; print(sorted({m.split('.')[0] for m in sys.modules}))"],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout
    assert "tensorflow" not in loaded and "keras" not in loaded


def test_the_strings_preset_writes_numbers_as_people_write_them(digits):
    images, labels, pool = digits
    settings = scenes.PRESETS["strings"]
    found_separator = found_touching = False
    for index in range(30):
        jpeg, truth = scenes.make_scene(3, index, (640, 480), images, labels, pool, settings)
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert frame.shape == (480, 640)
        written = "".join(str(d["digit"]) for d in truth["digits"])
        assert "".join(ch for ch in truth["text"] if ch.isdigit()) == written
        assert set(truth["text"]) <= set("0123456789.,-/ ")
        for separator in truth.get("separators", []):
            found_separator = True
            assert 0 <= separator["after"] < len(written) - 1  # between digits, never first or last
        boxes = [d["box"] for d in truth["digits"] if d["box"]]
        found_touching |= any(a[0] + a[2] > b[0] for a, b in itertools.pairwise(boxes))
    assert found_separator and found_touching


def test_separators_follow_how_numbers_are_written():
    from train.scenes.render import choose_separators

    for seed in range(40):
        rng = np.random.default_rng(seed)
        for n in range(3, 8):
            places = choose_separators(rng, n)
            assert places and all(0 <= i < n - 1 for i in places)
            assert len(set(places.values())) == 1  # one kind of separator per number


def test_strings_sets_have_digit_boxes_and_a_digits_column(tmp_path):
    out = tmp_path / "strings"
    assert scenes.main(["--preset", "strings", "--count", "4", "--seed", "1", "--out", str(out),
                        "--mnist", str(SUBSET), "--mnist-part", "train"]) == 0
    from device.data.stringsets import load_string_set

    strings = load_string_set(out)
    meta = json.loads((out / "scenes.json").read_text())
    assert meta["mnist_part"] == "train"
    for sample, scene in zip(strings.samples, meta["scenes"], strict=True):
        assert sample.digits == "".join(str(d["digit"]) for d in scene["digits"])
        assert len(sample.boxes) == len(sample.digits)
