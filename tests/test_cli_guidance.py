"""The first ten minutes: quiet by default, a headless fallback, --loop, and errors and empty readings that say why."""

from __future__ import annotations

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


def run_python(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "TF_CPP"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=REPO)


def no_display(monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")


def write_video(path: Path, frames: int, size=(160, 120)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 * i % 250, np.uint8))
    writer.release()


def page_with_text(text: str, height: int, spacing: float | None = None) -> np.ndarray:
    """A 640x480 page with ``text`` in dark ink, digits about ``height`` px tall (spaced apart if ``spacing``)."""
    page = np.full((480, 640, 3), 235, np.uint8)
    scale, thickness = height / 22.0, max(1, round(height / 11))
    for i, char in enumerate(text if spacing else [text]):
        x = 200 + round(i * spacing * height) if spacing else 200
        cv2.putText(page, char, (x, 240), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), thickness, cv2.LINE_AA)
    return page


def page_with_dash() -> np.ndarray:
    """A 640x480 page with one marker stroke, 14 px thick and 100 px long: a dash, not a digit."""
    page = np.full((480, 640, 3), 235, np.uint8)
    cv2.line(page, (250, 240), (350, 240), (20, 20, 20), 14)
    return page


# --------------------------------------------------------------------------------------------
# Quiet by default
# --------------------------------------------------------------------------------------------
def test_device_read_of_the_samples_prints_nothing_on_stderr():
    samples = sorted(str(p.relative_to(REPO)) for p in SAMPLES.glob("*.jpg"))
    result = run_python("-m", "device", "read", *samples)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == len(samples)
    assert result.stderr == ""


def test_building_a_recognizer_prints_nothing_and_verbose_lets_the_runtime_speak():
    assert run_python("-c", "from device import Recognizer; Recognizer()").stderr == ""
    verbose = run_python("-c", "from device.common.verbosity import set_verbose; set_verbose(True); "
                               "from device import Recognizer; Recognizer()")
    assert verbose.returncode == 0
    from device.recognition.runtime import load_interpreter_class

    if load_interpreter_class()[1] == "ai-edge-litert":  # the runtime whose line this is about
        assert "XNNPACK delegate" in verbose.stderr


def test_a_broken_video_and_an_absent_camera_are_one_line_without_opencv_logs(tmp_path):
    demo = (SAMPLES / "demo.mp4").read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(demo[:2000])  # FFmpeg would say "moov atom not found" first
    result = run_python("-m", "device", "live", "--headless", "--source", str(broken))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and "not a readable video" in result.stderr
    if sys.platform.startswith("linux") and not Path("/dev/video99").exists():
        camera = run_python("-m", "device", "live", "--headless", "--source", "usb:99")
        assert camera.returncode == 2
        assert camera.stderr.strip().startswith("device: error: cannot open USB camera 99")
        assert "WARN" not in camera.stderr and len(camera.stderr.splitlines()) == 1


# --------------------------------------------------------------------------------------------
# device live: no display, --loop, nothing to read
# --------------------------------------------------------------------------------------------
def test_live_without_a_display_and_with_serve_serves_without_a_window(monkeypatch, capsys):
    no_display(monkeypatch)
    from device.live import web

    class FakeView:  # the web view itself is tested in test_web.py; here: which sinks run
        url = "http://127.0.0.1:8000/"
        address = ("127.0.0.1", 8000)
        token = None
        frames = 0

        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            return self

        def __call__(self, annotated, detections, stable):
            FakeView.frames += 1

        def close(self):
            pass

    monkeypatch.setattr(web, "WebView", FakeView)
    assert main(["live", "--source", str(SAMPLES / "demo.mp4"), "--serve", "8000"]) == 0
    out, err = capsys.readouterr()
    assert out == ""  # no headless printout: the web view is the output
    assert "device: no display (DISPLAY is not set); serving the web view only" in err.splitlines()
    assert FakeView.frames == 30


def test_explicit_headless_says_nothing_about_the_display(monkeypatch, capsys):
    no_display(monkeypatch)
    assert main(["live", "--headless", "--source", str(SAMPLES / "demo.mp4")]) == 0
    assert capsys.readouterr().err == ""


def test_live_loop_replays_a_video_past_its_end(tmp_path, capsys):
    video = tmp_path / "five.avi"
    write_video(video, frames=5)
    assert main(["live", "--headless", "--loop", "--source", str(video), "--max-frames", "12", "-v"]) == 0
    assert "12 frames (0 skipped)" in capsys.readouterr().err
    assert main(["live", "--headless", "--source", str(video), "-v"]) == 0
    assert "5 frames (0 skipped)" in capsys.readouterr().err


def test_live_loop_with_a_camera_is_a_one_line_error(capsys):
    assert main(["live", "--headless", "--loop", "--source", "usb:0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--loop" in err and "Traceback" not in err


@pytest.mark.parametrize("name, content", [("empty.mp4", b""), ("zero.avi", None), ("bad.jpg", b"not a jpeg")])
def test_a_source_without_a_single_frame_is_an_error_with_exit_2(tmp_path, capsys, name, content):
    path = tmp_path / name
    if content is None:  # a valid video container with no frame in it
        cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (160, 120)).release()
    else:
        path.write_bytes(content)
    assert main(["live", "--headless", "--source", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"device: error: {path}")


# --------------------------------------------------------------------------------------------
# Errors that name the fix
# --------------------------------------------------------------------------------------------
def test_a_keras_model_given_as_model_says_to_convert_it(tmp_path, capsys):
    for name in ("model.keras", "model.tflite"):  # by suffix, and by content (a zip, as .keras files are)
        model = tmp_path / name
        model.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
        assert main(["read", "--model", str(model), str(SAMPLES / "sample_01.jpg")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err  # no note about the model's metadata first
        assert "is a Keras model" in err and "convert --int8" in err


def test_a_folder_given_as_model_lists_its_models(tmp_path, capsys):
    assert main(["read", "--model", str(REPO / "device" / "models"), str(SAMPLES / "sample_01.jpg")]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "digits_int8.tflite" in err
    assert main(["read", "--model", str(tmp_path), str(SAMPLES / "sample_01.jpg")]) == 2
    assert "no .tflite model" in capsys.readouterr().err


def test_eval_of_a_file_that_is_not_an_npz_says_what_an_npz_holds(tmp_path, capsys):
    text = tmp_path / "digits.txt"
    text.write_text("0 1 2 3\n")
    assert main(["eval", "--npz", str(text)]) == 2
    err = capsys.readouterr().err
    assert "not an .npz archive" in err and "x_train" in err
    assert "pickle" not in err


# --------------------------------------------------------------------------------------------
# Empty readings say why
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "page, reason",
    [
        (np.full((480, 640, 3), 235, np.uint8), "no ink found"),
        (page_with_text("4071", 8, spacing=1.5), "ink found but every mark too small"),
        (page_with_dash(), "ink found but every mark too wide for one digit"),
    ],
    ids=["blank", "tiny digits", "a dash"],
)
def test_read_of_an_empty_page_says_why_on_stderr(tmp_path, capsys, page, reason):
    image = tmp_path / "page.png"
    cv2.imwrite(str(image), page)
    assert main(["read", str(image)]) == 0  # an empty reading is not an error
    out, err = capsys.readouterr()
    assert out == f"{image}: \n"
    assert err.splitlines() == [err.strip()] and err.startswith(f"device read: {image}: no digits: {reason}")


def test_small_digits_that_run_together_are_cut_apart_and_read(tmp_path, capsys):
    image = tmp_path / "page.png"
    cv2.imwrite(str(image), page_with_text("4071", 17))  # 17 px tall: at this size the digits touch
    assert main(["read", str(image)]) == 0
    assert capsys.readouterr().out == f"{image}: 4071\n"


def test_read_names_unsure_candidates_and_lists_rejections_under_verbose(capsys):
    sample = str(SAMPLES / "sample_01.jpg")
    assert main(["read", "--min-confidence", "0.9999", sample]) == 0
    err = capsys.readouterr().err
    assert "3 candidates below confidence 0.9999 (best 0." in err and "lower --min-confidence" in err
    assert main(["read", "--min-confidence", "0.9999", "-v", sample]) == 0
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.startswith("    left out") and "confidence" in line]) == 3


def test_read_with_rejections_keeps_read_as_it_was():
    from device import Recognizer
    from device.recognition.rejections import TOO_SMALL, why_empty

    recognizer = Recognizer()
    frame = cv2.imread(str(SAMPLES / "sample_06.jpg"))
    found, rejected = recognizer.read_with_rejections(frame)
    assert found == recognizer.read(frame)
    tiny = page_with_text("4071", 8, spacing=1.5)
    found, rejected = recognizer.read_with_rejections(tiny)
    assert found == [] and len(rejected) == 4 and {r.reason for r in rejected} == {TOO_SMALL}
    assert all(r.limit and r.limit > r.box[3] for r in rejected)  # in frame pixels, like the boxes
    assert why_empty([]) == "no ink found"
