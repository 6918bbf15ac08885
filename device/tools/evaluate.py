"""``device eval``: accuracy of a TFLite model on labelled digit images, with the device's own code.

Digit sets are a Keras-layout ``.npz`` (``x_test``/``y_test``, else ``x``/``y``) or a folder with
subfolders ``0/`` ... ``9/`` of image files. Images that already look like MNIST (28x28, bright ink
on a dark background) get only the paper's preprocessing (``prepare_mnist``); anything else (photos,
crops of any size, dark ink on paper) goes through the full normalisation (``prepare_crops``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from device.live.sources import IMAGE_SUFFIXES
from device.recognition.preprocess import IMAGE_SIZE, prepare_crops, prepare_mnist
from device.recognition.runtime import NUM_CLASSES, TFLiteModel

BATCH = 256


class _Silent:
    """Stands in for a tqdm bar where tqdm is not installed (it is optional on a Pi)."""

    def __init__(self, iterable=None, **_kwargs) -> None:
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, _n: int = 1) -> None:
        pass


def progress_bar(iterable=None, **kwargs):
    """A tqdm progress bar (on standard error), or a silent stand-in when tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _Silent(iterable, **kwargs)
    return tqdm(iterable, **kwargs)


class DataError(Exception):
    """A digit set that cannot be read; one-line message."""


@dataclass(frozen=True)
class EvalResult:
    """Accuracy overall and per class, and how the images were prepared."""

    count: int
    correct: int
    per_class_count: np.ndarray  # (10,)
    per_class_correct: np.ndarray  # (10,)
    confusion: np.ndarray  # (10, 10): rows true, columns predicted
    preparation: str  # "mnist" or "crops"

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else 0.0

    def table(self) -> str:
        """Accuracy and the per-class table as text."""
        lines = [
            f"accuracy: {self.correct}/{self.count} = {100 * self.accuracy:.2f} %"
            f"  (images prepared as {self.preparation})",
            "digit  count  correct  accuracy  most confused with",
        ]
        for d in range(NUM_CLASSES):
            n, ok = int(self.per_class_count[d]), int(self.per_class_correct[d])
            row = self.confusion[d].copy()
            row[d] = 0
            worst = int(row.argmax())
            confused = f"{worst} ({int(row[worst])})" if row[worst] else "-"
            acc = f"{100 * ok / n:7.2f} %" if n else "      -  "
            lines.append(f"{d:>5}  {n:>5}  {ok:>7}  {acc}  {confused}")
        return "\n".join(lines)


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W), labels (N,)) from a Keras-layout or x/y .npz; never unpickles."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        with np.load(p, allow_pickle=False) as data:
            keys = set(data.files)
            if {"x_test", "y_test"} <= keys:
                x, y = data["x_test"], data["y_test"]
            elif {"x", "y"} <= keys:
                x, y = data["x"], data["y"]
            else:
                raise DataError(f"{p}: expected arrays x_test/y_test or x/y, found {sorted(keys)}")
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: not a readable .npz file ({str(exc).splitlines()[0]})") from None
    return _check_arrays(x, y, str(p))


def load_folder(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Grayscale images and labels from a folder of ``0/`` ... ``9/`` subfolders."""
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"{p}: not a folder")
    images, labels = [], []
    for digit in range(NUM_CLASSES):
        sub = p / str(digit)
        if not sub.is_dir():
            continue
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise DataError(f"{f}: not a readable image")
            images.append(image)
            labels.append(digit)
    if not images:
        raise DataError(f"{p}: no images in subfolders 0/ ... 9/")
    return images, np.array(labels, np.int64)


def _check_arrays(x: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[0] == 0:
        raise DataError(f"{name}: expected images shaped (N, H, W), got {x.shape}")
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise DataError(f"{name}: {x.shape[0]} images but {y.shape[0]} labels")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= NUM_CLASSES:
        raise DataError(f"{name}: labels must be integers 0-9")
    if x.dtype != np.uint8:
        x = np.clip(x * 255.0 if float(np.nanmax(x)) <= 1.0 else x, 0, 255).astype(np.uint8)
    return x, y.astype(np.int64)


def looks_like_mnist(images: np.ndarray | list[np.ndarray]) -> bool:
    """28x28 images with a dark border and bright ink: already normalised the MNIST way."""
    if isinstance(images, list):
        if any(im.shape != (IMAGE_SIZE, IMAGE_SIZE) for im in images):
            return False
        images = np.stack(images)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        return False
    sample = images[:: max(1, len(images) // 500)]
    border = np.concatenate([sample[:, 0], sample[:, -1], sample[:, :, 0], sample[:, :, -1]], axis=1)
    return float(np.median(border)) < 32 and float(sample.mean()) < 128


def evaluate(
    model: TFLiteModel,
    images: np.ndarray | list[np.ndarray],
    labels: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> EvalResult:
    """Predict every image in batches; ``progress(n)`` is told how many were done after each batch."""
    mnist_style = looks_like_mnist(images)
    prepare = prepare_mnist if mnist_style else (lambda batch: prepare_crops(batch, ink="auto"))
    predictions = np.empty(len(labels), np.int64)
    for start in range(0, len(labels), BATCH):
        chunk = images[start : start + BATCH]
        if isinstance(chunk, list) and mnist_style:
            chunk = np.stack(chunk)
        predictions[start : start + len(chunk)] = model.predict(prepare(chunk)).argmax(axis=1)
        if progress:
            progress(len(chunk))
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class_correct = np.diag(confusion).copy()
    return EvalResult(
        count=len(labels),
        correct=int(per_class_correct.sum()),
        per_class_count=confusion.sum(axis=1),
        per_class_correct=per_class_correct,
        confusion=confusion,
        preparation="mnist" if mnist_style else "crops",
    )
