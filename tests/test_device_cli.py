"""The ``device`` command: read, live, eval, bench; errors are one line and never a traceback."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from device.cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "device" / "samples"


def truth() -> dict[str, str]:
    with open(SAMPLES / "labels.csv", newline="") as f:
        return {r["file"]: r["text"] for r in csv.DictReader(f)}


def one_error_line(err: str) -> None:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) >= 1


def test_read_prints_the_digits_of_each_image(capsys):
    names = ["sample_01.jpg", "sample_06.jpg"]
    assert main(["read", *[str(SAMPLES / n) for n in names]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{SAMPLES / n}: {truth()[n]}" for n in names]


def test_read_json_has_boxes_digits_and_confidences(capsys):
    assert main(["read", "--json", str(SAMPLES / "sample_02.jpg")]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert documents[0]["reading"] == truth()["sample_02.jpg"]
    first = documents[0]["digits"][0]
    assert set(first) == {"digit", "confidence", "box", "line"} and len(first["box"]) == 4


def test_read_saves_annotated_images_into_a_new_folder(tmp_path, capsys):
    out = tmp_path / "out" / "annotated"  # created as needed, as scripts/demo.sh expects
    assert main(["read", str(SAMPLES / "sample_01.jpg"), "--save-annotated", str(out)]) == 0
    written = list(out.iterdir())
    assert [p.name for p in written] == ["sample_01_annotated.jpg"]
    assert cv2.imread(str(written[0])).shape == (480, 640, 3)


def test_read_with_an_uncreatable_annotation_folder_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["read", str(SAMPLES / "sample_01.jpg"), "--save-annotated", str(blocker / "sub")]) == 2
    assert "cannot create the folder" in capsys.readouterr().err


def test_read_goes_on_after_a_missing_or_corrupt_image_and_exits_2(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff garbage")
    code = main(["read", str(tmp_path / "absent.jpg"), str(corrupt), str(SAMPLES / "sample_01.jpg")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.strip().endswith(truth()["sample_01.jpg"])  # the good image was still read
    one_error_line(err)
    assert "absent.jpg: no such file" in err and "corrupt.jpg: not a readable image" in err


@pytest.mark.parametrize("content", [b"", b"not a model at all" * 50], ids=["empty", "garbage"])
def test_a_wrong_model_file_is_one_line_and_exit_2(tmp_path, capsys, content):
    model = tmp_path / "model.tflite"
    model.write_bytes(content)
    assert main(["read", "--model", str(model), str(SAMPLES / "sample_01.jpg")]) == 2
    out, err = capsys.readouterr()
    one_error_line(err)
    assert out == ""


def test_bad_flags_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["read", "--threads", "0", "x.jpg"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["teleport"])
    assert info.value.code == 2


def test_eval_on_mnist_style_npz_prints_accuracy_and_classes(capsys):
    assert main(["eval", "--npz", str(REPO / "tests" / "data" / "mnist_subset.npz")]) == 0
    out = capsys.readouterr().out
    assert "already MNIST-style" in out
    accuracy = float(out.split("accuracy:")[1].split("=")[1].split("%")[0])
    assert accuracy >= 95.0
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 10


def test_eval_on_paper_crops_in_x_y_layout_normalises_them(tmp_path, capsys, mnist_small):
    images = mnist_small["x_test"][:100]
    paper = np.stack([230 - cv2.resize(im, (64, 64)) // 2 for im in images])  # dark ink on paper, 64x64
    path = tmp_path / "paper.npz"
    np.savez(path, x=paper, y=mnist_small["y_test"][:100])
    assert main(["eval", "--npz", str(path)]) == 0
    out = capsys.readouterr().out
    assert "normalised as camera crops" in out and float(out.split("=")[1].split("%")[0]) >= 90.0


def test_eval_with_wrong_arrays_is_one_line(tmp_path, capsys):
    path = tmp_path / "odd.npz"
    np.savez(path, images=np.zeros((3, 28, 28)), labels=np.zeros(3))
    assert main(["eval", "--npz", str(path)]) == 2
    one_error_line(capsys.readouterr().err)
    assert main(["eval", "--npz", str(tmp_path / "absent.npz")]) == 2


def test_bench_reports_stages_fps_memory_and_the_naive_ratio(capsys):
    assert main(["bench", "--frames", "3", "--naive-frames", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["frame_size"] == [640, 480] and figures["digits"] == 6
    assert set(figures["median_ms"]) == {"decode", "segment", "preprocess", "inference"}
    assert figures["fps"] > 0 and figures["peak_rss_mb"] > 0 and figures["speedup"] > 0


def test_live_headless_on_a_video_prints_the_stable_reading_and_records(tmp_path, capsys):
    record = tmp_path / "annotated.avi"
    code = main(["live", "--source", str(SAMPLES / "demo.mp4"), "--headless", "--record", str(record)])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [truth()["demo.mp4"]]
    assert record.is_file() and record.stat().st_size > 10_000


def test_live_without_a_display_says_so_in_one_line_and_runs_headless(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["live", "--source", str(SAMPLES / "demo.mp4")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [truth()["demo.mp4"]]  # the readings, as --headless prints them
    assert err.splitlines() == ["device: no display (DISPLAY is not set); running headless (readings printed below)"]


def test_live_with_a_missing_source_is_one_line(capsys):
    assert main(["live", "--source", "/nonexistent/clip.mp4", "--headless"]) == 2
    one_error_line(capsys.readouterr().err)


NO_TENSORFLOW = """
import sys
# Anything that tries to import TensorFlow or Keras now fails, as on a Raspberry Pi without them.
for name in ("tensorflow", "keras", "tf_keras"):
    sys.modules[name] = None
from device.cli import main
code = main(sys.argv[1:])
assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules if sys.modules[m] is not None)
sys.exit(code)
"""


def test_device_reads_a_bundled_image_without_tensorflow_or_keras():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW, "read", "--verbose", str(SAMPLES / "sample_02.jpg")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{SAMPLES / 'sample_02.jpg'}: {truth()['sample_02.jpg']}"
    assert "runtime ai-edge-litert" in result.stderr or "runtime tflite-runtime" in result.stderr


def test_python_m_device_shows_help():
    result = subprocess.run(
        [sys.executable, "-m", "device", "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0
    for command in ("live", "read", "eval", "bench"):
        assert command in result.stdout


def test_eval_and_bench_work_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not part of the [device] install
    assert main(["eval", "--npz", str(REPO / "tests" / "data" / "mnist_subset.npz")]) == 0
    assert main(["bench", "--frames", "2", "--naive-frames", "1"]) == 0
    assert "frames per second" in capsys.readouterr().out
