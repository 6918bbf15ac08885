"""The Python API: Recognizer.classify / read, Detection, reading_string, on the bundled model."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from device import Detection, Recognizer
from device.recognition.recognizer import reading_string
from device.recognition.runtime import ModelError

SAMPLES = Path(__file__).resolve().parents[1] / "device" / "samples"


def sample_truth() -> list[tuple[str, str]]:
    with open(SAMPLES / "labels.csv", newline="") as f:
        return [(r["file"], r["text"]) for r in csv.DictReader(f) if r["file"].endswith(".jpg")]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def as_paper_crops(mnist_images: np.ndarray, size: int = 90) -> list[np.ndarray]:
    """MNIST digits as a camera would see them: dark ink on light paper, bigger, with a margin."""
    crops = []
    for image in mnist_images:
        big = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
        crops.append((230 - big.astype(np.float32) * 0.8).clip(0, 255).astype(np.uint8))
    return crops


def test_classify_reads_paper_crops_of_test_digits(recognizer, mnist_small):
    images, labels = mnist_small["x_test"][:200], mnist_small["y_test"][:200]
    digits, probabilities = recognizer.classify(as_paper_crops(images))
    assert digits.shape == (200,) and probabilities.shape == (200, 11)  # ten digits, then non-digit
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=0.05)
    assert float((digits == labels).mean()) >= 0.95


def test_classify_takes_either_ink_polarity(recognizer, mnist_small):
    images, labels = mnist_small["x_test"][:100], mnist_small["y_test"][:100]
    bright, _ = recognizer.classify(list(images), ink="bright")
    auto, _ = recognizer.classify(list(images))
    assert float((bright == labels).mean()) >= 0.95
    assert np.array_equal(bright, auto)


def test_classify_of_nothing_is_empty(recognizer):
    digits, probabilities = recognizer.classify([])
    assert digits.shape == (0,) and probabilities.shape == (0, 11)


@pytest.mark.parametrize(("name", "text"), sample_truth())
def test_read_gets_each_bundled_sample_right(recognizer, name, text):
    frame = cv2.imread(str(SAMPLES / name))
    detections = recognizer.read(frame)
    assert reading_string(detections) == text
    assert all(isinstance(d, Detection) and 0.0 < d.confidence <= 1.0 for d in detections)
    xs = [d.box[0] for d in detections if d.line == 0]
    assert xs == sorted(xs)


def test_detections_are_frozen_and_read_as_text_by_line():
    detections = [
        Detection((0, 0, 5, 9), 4, 0.9, 0),
        Detection((9, 0, 5, 9), 2, 0.8, 0),
        Detection((0, 20, 5, 9), 7, 0.99, 1),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        detections[0].digit = 5
    assert reading_string(detections) == "42 7"
    assert reading_string(detections, line_separator="\n") == "42\n7"
    assert reading_string([]) == ""


def test_confidence_threshold_drops_what_it_is_not_sure_of(recognizer):
    frame = cv2.imread(str(SAMPLES / sample_truth()[0][0]))
    everything = recognizer.read(frame, min_confidence=0.0)
    assert len(everything) >= 1
    assert recognizer.read(frame, min_confidence=1.01) == []
    sure = recognizer.read(frame, min_confidence=0.9)
    assert all(d.confidence >= 0.9 for d in sure) and len(sure) <= len(everything)


def test_read_reports_time_per_stage(recognizer):
    timings: dict[str, float] = {}
    recognizer.read(cv2.imread(str(SAMPLES / sample_truth()[0][0])), timings=timings)
    assert set(timings) == {"segment", "preprocess", "inference"}
    assert all(t >= 0.0 for t in timings.values())


@pytest.mark.parametrize(
    "frame",
    [np.zeros((480, 640, 3), np.uint8), np.full((480, 640), 255, np.uint8), np.zeros((4, 4), np.uint8)],
    ids=["black", "white", "tiny"],
)
def test_frames_without_writing_read_as_nothing(recognizer, frame):
    assert recognizer.read(frame) == []


def test_a_missing_or_broken_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Recognizer(tmp_path / "absent.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"this is not a flatbuffer" * 10)
    with pytest.raises(ModelError):
        Recognizer(broken)


def test_recognizer_accepts_a_loaded_model(recognizer):
    again = Recognizer(recognizer.model)
    assert again.model is recognizer.model
    assert again.runtime_name in ("ai-edge-litert", "tflite-runtime", "tensorflow.lite")
