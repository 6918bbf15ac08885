"""Scenes and clips from (seed, index), and the files a set or a clip is written to.

Every random choice of scene ``i`` comes from ``numpy.random.default_rng([seed, i])``, so a scene does
not depend on how many others are made; a clip uses index 1,000,000, which no scene set reaches.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device.common.files import PendingFile, write_atomic
from device.common.progress import progress_bar
from device.data.digitsets import mnist_arrays
from train.scenes.page import SceneError, photograph, render_page, safe_perspective
from train.scenes.settings import SceneSettings

REPO = Path(__file__).resolve().parents[2]
FALLBACK_MNIST = REPO / "tests" / "data" / "mnist_subset.npz"
TEXT_FORMAT = "digits of each line, lines top to bottom separated by one space"
CLIP_FPS = 10.0


def default_mnist() -> Path:
    """``$MNIST_NPZ``, else the full MNIST beside the checkout (as on the project's machines)."""
    return Path(os.environ.get("MNIST_NPZ", REPO.parent / "shared" / "data" / "mnist.npz"))


def mnist_for_scenes(path: Path | None = None) -> Path:
    """The MNIST to draw digits from: ``path``, else ``default_mnist()`` if it exists, else the test subset."""
    if path is not None:
        return path
    default = default_mnist()
    return default if default.exists() else FALLBACK_MNIST


def load_mnist_test(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST *test* images and labels (never seen in training); ``DataError`` with a one-line message."""
    return load_mnist_part(path, "test")


def load_mnist_part(path: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``test`` digits (to measure the reader) or ``train`` digits (to train a model on scenes)."""
    arrays = mnist_arrays(path)
    return arrays[f"x_{part}"], arrays[f"y_{part}"]


def make_scene(
    seed: int,
    index: int,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
) -> tuple[bytes, dict[str, Any]]:
    """Render scene ``index`` of ``seed``: (JPEG bytes, ground truth and drawn parameters)."""
    rng = np.random.default_rng([seed, index])
    scanned = settings.scanned_prob > 0 and rng.random() < settings.scanned_prob
    if scanned:  # a flatbed scan: the sheet head-on, evenly lit, no table
        settings = replace(settings, table_prob=0.0, shadow_prob=0.0, perspective=0.0, light_min=(0.92, 1.0),
                           blur_sigma=(0.0, 0.6))
    page, label_map, truth = render_page(rng, size, images, labels, index_pool, settings)
    if settings.scanned_prob > 0:
        truth["params"]["scanned"] = scanned
    n = len(truth["digits"])
    homography, label_map = safe_perspective(rng, label_map, n, settings.perspective)
    frame, camera = photograph(rng, page, homography, settings)
    quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SceneError("JPEG encoding failed")
    truth["params"].update(camera, jpeg_quality=quality)
    for i, digit in enumerate(truth["digits"]):
        ys, xs = np.nonzero(label_map == i + 1)
        if ys.size:
            digit["box"] = [
                int(xs.min()),
                int(ys.min()),
                int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1),
            ]
    return jpeg.tobytes(), truth


def make_clip(
    seed: int,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
    frames: int,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """A hand-held camera over one sheet: the tilt drifts smoothly from one perspective to another."""
    rng = np.random.default_rng([seed, 1_000_000])
    page, label_map, truth = render_page(rng, size, images, labels, index_pool, settings)
    n = len(truth["digits"])
    h0, _ = safe_perspective(rng, label_map, n, settings.perspective)
    h1, _ = safe_perspective(rng, label_map, n, settings.perspective)
    w, h = size
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    c0, c1 = cv2.perspectiveTransform(src[None], h0)[0], cv2.perspectiveTransform(src[None], h1)[0]
    # A steadier camera than for stills: a video of a blurry, noisy sheet would read as broken.
    still = replace(settings, blur_sigma=(0.0, 0.8), noise_sigma=(2.0, 4.0))
    clip = []
    for t in np.linspace(0.0, 1.0, frames):
        ease = 0.5 - 0.5 * np.cos(np.pi * t)
        homography = cv2.getPerspectiveTransform(src, (c0 + (c1 - c0) * ease).astype(np.float32))
        clip.append(photograph(rng, page, homography, still)[0])
    return clip, truth


def write_scene_set(
    out: Path,
    seed: int,
    count: int,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
    mnist_path: Path,
    mnist_part: str = "test",
) -> dict[str, Any]:
    """Write ``scene_NNNNN.jpg``, ``scenes.json`` and ``labels.csv`` into ``out``; returns the scenes.json content.

    Every file is written whole (``write_atomic``), labels.csv last, so a folder with labels.csv is complete.
    """
    out.mkdir(parents=True, exist_ok=True)
    scenes = []
    for i in progress_bar(range(count), desc="scenes", unit="scene"):
        jpeg, truth = make_scene(seed, i, size, images, labels, index_pool, settings)
        name = f"scene_{i:05d}.jpg"
        write_atomic(out / name, jpeg)
        scenes.append({"file": name, **truth})

    meta = {
        "generator": "train.scenes",
        "seed": seed,
        "count": count,
        "size": list(size),
        "mnist": str(mnist_path),
        "mnist_part": mnist_part,
        "mnist_range": [int(index_pool[0]), int(index_pool[-1]) + 1],
        "text_format": TEXT_FORMAT,
        "settings": asdict(settings),
        "scenes": scenes,
    }
    write_atomic(out / "scenes.json", json.dumps(meta, indent=1).encode())
    # digit_boxes.csv and the digits column: the layout of the real strings sets (device.data.stringsets).
    boxes = io.StringIO()
    box_writer = csv.writer(boxes, lineterminator="\n")
    box_writer.writerow(["file", "digit", "x", "y", "w", "h"])
    for scene in scenes:
        box_writer.writerows([scene["file"], d["digit"], *d["box"]] for d in scene["digits"] if d["box"])
    write_atomic(out / "digit_boxes.csv", boxes.getvalue().encode())
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "text", "digits_left_to_right"])
    writer.writerows([s["file"], s["text"], "".join(str(d["digit"]) for d in s["digits"])] for s in scenes)
    write_atomic(out / "labels.csv", table.getvalue().encode())
    return meta


def write_clip(
    video: Path,
    seed: int,
    frame_count: int,
    size: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    index_pool: np.ndarray,
    settings: SceneSettings,
) -> dict[str, Any]:
    """Write one sheet filmed by a drifting camera to ``video`` (.mp4, else MJPG) and ``video.json``.

    Returns the .json content. The video is recorded under a temporary name beside ``video`` (same
    suffix: ``cv2.VideoWriter`` picks the container from it) and renamed into place when complete.
    """
    frames, truth = make_clip(seed, size, images, labels, index_pool, settings, frame_count)
    codec = "mp4v" if video.suffix.lower() == ".mp4" else "MJPG"
    with PendingFile(video) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*codec), CLIP_FPS, size)
        if not writer.isOpened():
            raise SceneError(f"cannot write {video} with codec {codec}")
        for frame in frames:
            writer.write(frame)
        writer.release()
    meta = {
        "generator": "train.scenes --video",
        "seed": seed,
        "frames": len(frames),
        "size": list(size),
        "settings": asdict(settings),
        **truth,
    }
    write_atomic(video.with_name(video.name + ".json"), json.dumps(meta, indent=1).encode())
    return meta
