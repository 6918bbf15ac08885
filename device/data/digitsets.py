"""Labelled digit sets from files, read the same way by every command (``device eval``, ``train``, ``convert``).

Formats:

- ``.npz`` (never unpickled). Array names: ``x``/``y``, when present, are the whole set; otherwise the
  Keras layout ``x_train``/``y_train``/``x_test``/``y_test``, of which a command takes its test part
  (``part="test"``: ``device eval``) or both parts joined (``part="all"``: ``train --extra``, ``convert
  --calib``). One file therefore gives the same digits to every command that asks for the same part.
- MNIST itself also from a folder of its four IDX files, optionally gzipped (``mnist_arrays``).
- A folder with subfolders ``0/`` .. ``9/`` of image files (any size; photographed digits are dark ink on
  light paper), as ``device collect`` writes.

Images become uint8 by one rule (``preprocess.to_uint8``). Arrays that already look like MNIST (28x28, bright ink on
black) are kept as they are, and so is each such image of a folder (judged one by one: what ``device collect``
saved reaches ``train`` and ``device eval`` pixel for pixel); anything else is normalised MNIST-style by the
camera's own code (``device.recognition.preprocess.normalize_digits``), so a digit from a file is seen as a
camera crop is.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from device.common.errors import first_line
from device.common.images import IMAGE_SUFFIXES, ImageError, read_image
from device.common.shapes import IMAGE_SIZE, NUM_CLASSES
from device.recognition.preprocess import normalize_digit, normalize_digits, to_uint8

Part = Literal["test", "all"]
KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data set that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True)
class DigitSet:
    """Digit images (N, H, W) uint8 and labels (N,) int64 in 0..9.

    ``style`` says how the images came: "mnist" (already MNIST-style, kept as they were),
    "normalized" (normalised MNIST-style from crops) or "mixed" (a folder holding both); "raw" before either.
    """

    x: np.ndarray
    y: np.ndarray
    style: str = "raw"

    def __len__(self) -> int:
        return len(self.y)


# --------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------
def checked_set(x: np.ndarray, y: np.ndarray, source: str, side: int | None = None) -> DigitSet:
    """Check shapes and labels; images become uint8 (``to_uint8``) and labels int64. DataError otherwise."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or (side is not None and x.shape[1:] != (side, side)):
        want = f"(N, {side}, {side})" if side else "(N, H, W)"
        raise DataError(f"{source}: images must be shaped {want}, got {x.shape}")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{source}: need one label per image, got {len(x)} images and labels shaped {y.shape}")
    if len(y) == 0:
        raise DataError(f"{source}: no images")
    if not np.issubdtype(y.dtype, np.number) or (
        not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0)
    ):
        raise DataError(f"{source}: labels must be whole numbers 0..9")
    labels = y.astype(np.int64)
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise DataError(f"{source}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    return DigitSet(np.ascontiguousarray(to_uint8(x)), labels)


def looks_like_mnist(images: np.ndarray | Sequence[np.ndarray]) -> bool:
    """28x28 images with a dark border and bright ink: already normalised the MNIST way."""
    if not isinstance(images, np.ndarray):
        if any(np.shape(im) != (IMAGE_SIZE, IMAGE_SIZE) for im in images):
            return False
        images = np.stack(images) if len(images) else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) == 0:
        return False
    sample = images[:: max(1, len(images) // 500)]
    border = np.concatenate([sample[:, 0], sample[:, -1], sample[:, :, 0], sample[:, :, -1]], axis=1)
    return float(np.median(border)) < 32 and float(sample.mean()) < 128


def as_mnist_style(images: np.ndarray | Sequence[np.ndarray], labels: np.ndarray) -> DigitSet:
    """(N, 28, 28) uint8 MNIST-style digits: kept when they already are, else normalised as camera crops."""
    if looks_like_mnist(images):
        x = np.stack(images) if not isinstance(images, np.ndarray) else images
        return DigitSet(np.ascontiguousarray(x), labels, "mnist")
    return DigitSet(normalize_digits(images, ink="auto"), labels, "normalized")


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
NPZ_CONTENTS = "arrays x and y, or x_train, y_train, x_test and y_test"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (an empty one ends at once)


def _check_npz(path: Path) -> None:
    """DataError naming the fix when the file is not a zip of arrays (np.load would try to unpickle it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return  # np.load says what is wrong
    if head.startswith(_ZIP_MAGICS):
        return
    what = "a single .npy array" if head.startswith(b"\x93NUMPY") else "empty" if not head else "not a zip archive"
    raise DataError(f"{path}: not an .npz archive ({what}): give a file written by numpy.savez holding {NPZ_CONTENTS}")


def read_npz(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The named arrays of an .npz (never unpickling), or None when one of them is missing."""
    _check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not all(key in data.files for key in keys):
                return None
            return {key: data[key] for key in keys}
    except (OSError, ValueError, EOFError, KeyError) as err:  # ValueError: also object arrays, a broken zip
        if "allow_pickle" in str(err):
            raise DataError(f"{path}: holds object arrays (pickled Python objects), which are never loaded: "
                            f"save plain arrays of numbers ({NPZ_CONTENTS})") from None
        raise DataError(f"{path}: not a readable .npz file of plain arrays ({first_line(err)})") from None


def npz_digits(path: Path, part: Part) -> DigitSet:
    """The raw digits of an .npz by the array-name rule of this module's docstring."""
    plain = read_npz(path, ["x", "y"])
    if plain is not None:
        return checked_set(plain["x"], plain["y"], str(path))
    keras = read_npz(path, KERAS_KEYS)
    if keras is None:
        raise DataError(f"{path}: need {NPZ_CONTENTS}")
    if part == "test":
        return checked_set(keras["x_test"], keras["y_test"], f"{path} (test)")
    train = checked_set(keras["x_train"], keras["y_train"], f"{path} (train)")
    test = checked_set(keras["x_test"], keras["y_test"], f"{path} (test)")
    if train.x.shape[1:] != test.x.shape[1:]:
        raise DataError(f"{path}: train and test images differ in size")
    return DigitSet(np.concatenate([train.x, test.x]), np.concatenate([train.y, test.y]))


def folder_files(path: Path) -> list[tuple[Path, int]]:
    """The image files of a folder of ``0/`` ... ``9/`` subfolders and their labels, in a fixed order."""
    files = []
    for digit in range(NUM_CLASSES):
        sub = path / str(digit)
        if sub.is_dir():
            files.extend((f, digit) for f in sorted(sub.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES)
    return files


def folder_digits(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Grayscale images (any sizes) and labels from a folder of ``0/`` ... ``9/`` subfolders."""
    files = folder_files(path)
    if not files:
        raise DataError(f"{path}: no images in subfolders 0/ ... 9/")
    images = []
    for f, _ in files:
        try:
            images.append(read_image(f, gray=True))
        except ImageError as err:
            raise DataError(str(err)) from None
    return images, np.array([label for _, label in files], np.int64)


def folder_keys(path: Path) -> list[str]:
    """Each image's name relative to the folder (``3/00012.png``), in ``folder_digits``' order: what a split
    by file keys on."""
    return [f"{f.parent.name}/{f.name}" for f, _ in folder_files(path)]


def each_mnist_style(images: Sequence[np.ndarray], labels: np.ndarray) -> DigitSet:
    """A folder's images, each judged on its own: an image that is already an MNIST-style digit (what
    ``device collect`` saves) is kept pixel for pixel, any other is normalised as a camera crop. One stray
    photo in a folder therefore never makes the collected digits beside it normalised a second time."""
    out = np.zeros((len(images), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    kept = np.zeros(len(images), bool)
    for i, image in enumerate(images):
        if image.shape == (IMAGE_SIZE, IMAGE_SIZE) and looks_like_mnist(image[None]):
            out[i], kept[i] = image, True
        else:
            out[i] = normalize_digit(image, ink="auto")
    style = "mnist" if kept.all() else "normalized" if not kept.any() else "mixed"
    return DigitSet(out, labels, style)


def load_digits(path: str | Path, part: Part = "all") -> DigitSet:
    """A labelled digit set (``.npz`` or a ``0/`` .. ``9/`` folder) as (N, 28, 28) uint8 MNIST-style digits."""
    path = Path(path)
    if path.is_dir():
        images, labels = folder_digits(path)
        return each_mnist_style(images, labels)
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    raw = npz_digits(path, part)
    return as_mnist_style(raw.x, raw.y)


# --------------------------------------------------------------------------------------------
# MNIST files
# --------------------------------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte IDX file (optionally gzipped) as an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise DataError(f"{path}: cannot read IDX file ({first_line(err)})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise DataError(f"{path}: IDX file is truncated or has trailing bytes")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem.replace("-idx", ".idx"), stem + ".gz", stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: missing IDX file {stem}[.gz]")


def mnist_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The four MNIST arrays (``KERAS_KEYS``) from a Keras-layout .npz or a folder of IDX files."""
    path = Path(path)
    if path.is_dir():
        return {key: read_idx(_find_idx(path, stem)) for key, stem in IDX_FILES.items()}
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    found = read_npz(path, KERAS_KEYS)
    if found is None:
        raise DataError(f"{path}: not a Keras-layout MNIST .npz (need {', '.join(KERAS_KEYS)})")
    return found


def mnist_sets(arrays: dict[str, np.ndarray], source: str) -> tuple[DigitSet, DigitSet]:
    """(train, test) from the four MNIST arrays, checked as 28x28 digits."""
    return (
        _mnist(checked_set(arrays["x_train"], arrays["y_train"], f"{source} (train)", side=IMAGE_SIZE)),
        _mnist(checked_set(arrays["x_test"], arrays["y_test"], f"{source} (test)", side=IMAGE_SIZE)),
    )


def _mnist(digits: DigitSet) -> DigitSet:
    return DigitSet(digits.x, digits.y, "mnist")
