"""Real handwriting of other traditions that a shipped model may learn from: one loader for every set.

Each set lives in a folder of its own under one root (``train --real-data DIR``; the layout of
``../shared/data``): its folder name, licence and attribution are in ``REAL_SETS``. Every set comes back the
same way, as ``RealSet``: (N, 28, 28) uint8 MNIST-style digits made by device/'s own normalisation (scanned
bitmaps as camera crops are normalised; pen trajectories drawn at real pens' widths first:
train/pen_render.py), labels, writer ids where the set names its writers, and a held-out part of writers the
model never trains on, so that a figure on "held-out writers" is one.

- ``optdigits``: UCI optdigits, 30 writers' 32x32 scanned bitmaps (Istanbul). No writer ids: nothing held out.
- ``uji``: UCI UJI Pen Characters v2 digits, 60 writers (Spain), pen trajectories; 12 writers held out.
- ``pendigits``: UCI pendigits, 44 writers (Istanbul), 8 points a digit; its own 14 test writers held out.
- ``unipen``: UNIPEN train_r01_v07 1a, 268+ writers of 17 contributors; a fifth of the writers held out.

All four are CC BY 4.0; the attribution travels in the model's metadata (train/provenance.py) and in
docs/data.md and NOTICE.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from device.common.errors import first_line
from device.data.digitsets import DataError
from device.recognition.preprocess import normalize_digit
from train.pen_render import render_pen_digit

HELD_OUT_WRITERS = 0.2  # share of a set's writers never trained on (seeded, by writer)
REAL_DATA_ENV = "ZMG_REAL_DATA"


def default_real_data() -> Path:
    """Where train looks for the real sets without --real-data: $ZMG_REAL_DATA, else ~/.cache/zmg-digits/real."""
    return Path(os.environ.get(REAL_DATA_ENV) or Path.home() / ".cache" / "zmg-digits" / "real")


@dataclass(frozen=True)
class RealSetInfo:
    folder: str  # under the real-data root
    what: str
    licence: str
    attribution: str
    url: str


REAL_SETS: dict[str, RealSetInfo] = {
    "optdigits": RealSetInfo(
        "optdigits_train", "UCI optdigits, 32x32 scanned bitmaps of 30 writers (Istanbul)", "CC BY 4.0",
        "E. Alpaydin, C. Kaynak, Optical Recognition of Handwritten Digits, Bogazici University, 1998, UCI "
        "Machine Learning Repository (CC BY 4.0); modified: bitmaps normalised as camera crops",
        "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits"),
    "uji": RealSetInfo(
        "uji_pen_chars", "UCI UJI Pen Characters v2, digits of 60 writers (Spain), pen trajectories", "CC BY 4.0",
        "F. Prat, M. J. Castro, D. Llorens, A. Marzal, J. M. Vilar, UJI Pen Characters (Version 2), Universitat "
        "Jaume I and Universidad Politecnica de Valencia, 2008, UCI Machine Learning Repository (CC BY 4.0); "
        "modified: digits only, trajectories drawn as pen strokes",
        "https://archive.ics.uci.edu/ml/datasets/UJI+Pen+Characters+(Version+2)"),
    "pendigits": RealSetInfo(
        "pendigits", "UCI pendigits, 44 writers (Istanbul), 8 points a digit", "CC BY 4.0",
        "E. Alpaydin, F. Alimoglu, Pen-Based Recognition of Handwritten Digits, Bogazici University, 1998, UCI "
        "Machine Learning Repository, doi:10.24432/C5MG6K (CC BY 4.0); modified: 8-point trajectories drawn as "
        "pen strokes", "https://doi.org/10.24432/C5MG6K"),
    "unipen": RealSetInfo(
        "unipen_1a", "UNIPEN train_r01_v07 isolated digits (1a), 268+ writers of 17 contributors",
        "CC BY 4.0",
        "Unipen Consortium (1999), Unipen data set of on-line (vectorial) handwriting - train_r01_v07, Zenodo, "
        "doi:10.5281/zenodo.1195803 (CC BY 4.0); I. Guyon, L. Schomaker, R. Plamondon, M. Liberman, S. Janet, "
        "UNIPEN project of on-line data exchange and recognizer benchmarks, Proc. 12th ICPR, 1994; modified: "
        "trajectories drawn as pen strokes", "https://doi.org/10.5281/zenodo.1195803"),
}


@dataclass(frozen=True)
class RealSet:
    name: str
    x: np.ndarray  # (N, 28, 28) uint8, MNIST-style (bright ink)
    y: np.ndarray  # (N,) int64 digits
    writer: np.ndarray  # (N,) int64, -1 where the set does not say who wrote it
    held_out: np.ndarray  # (N,) bool: digits of the writers kept out of training
    held_out_note: str  # who the held-out digits are, for reports

    def __len__(self) -> int:
        return len(self.y)

    def part(self, held_out: bool) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of the training part (False) or of the held-out writers (True)."""
        mask = self.held_out if held_out else ~self.held_out
        return self.x[mask], self.y[mask]


def source_record(name: str) -> dict[str, str]:
    """The provenance record of one set, as the model's metadata lists it (train/provenance.py)."""
    info = REAL_SETS[name]
    return {"name": info.what, "licence": info.licence, "attribution": info.attribution, "url": info.url}


def held_out_writers(writers: np.ndarray, seed: int, share: float = HELD_OUT_WRITERS) -> np.ndarray:
    """A seeded choice of ``share`` of the distinct writers (>= 0): True for each of their digits."""
    known = np.unique(writers[writers >= 0])
    if known.size == 0:
        return np.zeros(len(writers), bool)
    rng = np.random.default_rng([seed, 104729])  # its own stream: the split does not move with other draws
    chosen = rng.choice(known, size=max(1, round(share * known.size)), replace=False)
    return np.isin(writers, chosen)


def _npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise DataError(f"{path}: no array {missing[0]!r} (has {', '.join(data.files)})")
            return {k: data[k] for k in keys}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read ({first_line(err)})") from None


def _render_all(strokes: list[list[np.ndarray]], seed: int, set_seed: int) -> np.ndarray:
    """Every pen digit drawn once, each at its own seeded pen width and slant."""
    out = np.zeros((len(strokes), 28, 28), np.uint8)
    for i, digit in enumerate(strokes):
        out[i] = render_pen_digit(digit, np.random.default_rng([seed, set_seed, i]))
    return out


# Median width / height of MNIST's digits, per class (first 10,000 training digits): NIST's normalisation
# stretched every optdigits bitmap to fill its square, so a digit's proportions are given back from these.
MNIST_ASPECT = (0.9, 0.45, 0.95, 0.8, 0.8, 1.0, 0.7, 0.75, 0.75, 0.7)


def restore_bitmap(bitmap: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
    """One NIST-normalised 32x32 bitmap -> an MNIST-style digit: its proportions given back (MNIST's for the
    class, varied by writer), its thick strokes thinned to a real pen's at random, normalised as a crop."""
    big = cv2.resize(bitmap, (96, 96), interpolation=cv2.INTER_NEAREST)
    aspect = float(np.clip(MNIST_ASPECT[label] * np.exp(rng.normal(0.0, 0.15)), 0.25, 1.0))
    big = cv2.resize(big, (max(8, round(96 * aspect)), 96), interpolation=cv2.INTER_AREA)
    thin = int(rng.integers(0, 4))
    if thin:
        big = cv2.erode(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * thin + 1, 2 * thin + 1)))
    return normalize_digit(cv2.GaussianBlur(big, (0, 0), 1.5), ink="bright")


def _load_optdigits(folder: Path, seed: int) -> RealSet:
    data = _npz(folder / "optdigits_train.npz", ("x32", "y"))
    x = np.stack([restore_bitmap(bitmap, int(label), np.random.default_rng([seed, 4, i]))
                  for i, (bitmap, label) in enumerate(zip(data["x32"], data["y"], strict=True))])
    n = len(x)
    return RealSet("optdigits", x, data["y"].astype(np.int64), np.full(n, -1, np.int64), np.zeros(n, bool),
                   "no writer ids in the set: nothing held out")


def _load_uji(folder: Path, seed: int) -> RealSet:
    # {"rawData": {"0": [120 samples], ...}}: per digit, each writer's two sessions in turn (the README's
    # writer ids: sample i is writer i // 2 + 1), each sample a list of strokes of [x, y] points, y downwards
    path = folder / "source" / "ujipenchars2.json"
    strokes, labels, writers = [], [], []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["rawData"]
        for label in sorted(raw, key=int):
            for i, sample in enumerate(raw[label]):
                strokes.append([np.asarray(s, np.float64).reshape(-1, 2) for s in sample])
                labels.append(int(label))
                writers.append(i // 2 + 1)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: cannot read ({first_line(err)})") from None
    writer = np.asarray(writers, np.int64)
    held = held_out_writers(writer, seed)
    return RealSet("uji", _render_all(strokes, seed, 1), np.asarray(labels, np.int64), writer, held,
                   f"{len(np.unique(writer[held]))} of {len(np.unique(writer))} writers")


def read_pendigits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """UCI's pendigits.tra / .tes: (N, 8, 2) points 0..100 (y upwards, as the tablet gave them), (N,) digits."""
    try:
        rows = [line.split(",") for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
        values = np.asarray([[int(v) for v in row] for row in rows if row[0].strip().isdigit()], np.int64)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read ({first_line(err)})") from None
    if values.ndim != 2 or values.shape[1] != 17:
        raise DataError(f"{path}: not UCI pendigits (17 numbers a row)")
    return values[:, :16].reshape(-1, 8, 2).astype(np.float64), values[:, 16]


def _load_pendigits(folder: Path, seed: int) -> RealSet:
    train_points, train_labels = read_pendigits(folder / "source" / "pendigits.tra")
    test_points, test_labels = read_pendigits(folder / "source" / "pendigits.tes")
    points = np.concatenate([train_points, test_points])
    points[..., 1] = 100.0 - points[..., 1]  # the tablet's y grows upwards
    strokes = [[p] for p in points]  # the 8 points run along the whole pen path, pen-ups included
    # pendigits.tes holds the set's own 14 writers apart from the 30 of .tra: they are the held-out writers
    held = np.r_[np.zeros(len(train_labels), bool), np.ones(len(test_labels), bool)]
    return RealSet("pendigits", _render_all(strokes, seed, 2), np.concatenate([train_labels, test_labels]),
                   np.full(len(points), -1, np.int64), held, "the set's own 14 test writers (pendigits.tes)")


def _load_unipen(folder: Path, seed: int) -> RealSet:
    from train.unipen import load_unipen_cached

    archive = folder / "unipen_1a.tar.xz"  # as staged; downloaded, the repository's files lie unpacked
    source = archive if archive.is_file() else folder
    try:
        digits = load_unipen_cached(source, None)
    except (OSError, ValueError) as err:
        raise DataError(f"{source}: cannot read UNIPEN ({first_line(err)})") from None
    keys = sorted({d.writer for d in digits})
    index = {key: i for i, key in enumerate(keys)}
    writer = np.asarray([index[d.writer] for d in digits], np.int64)
    held = held_out_writers(writer, seed)
    x = _render_all([d.strokes for d in digits], seed, 3)
    return RealSet("unipen", x, np.asarray([d.label for d in digits], np.int64), writer, held,
                   f"{len(np.unique(writer[held]))} of {len(keys)} writers")


_LOADERS = {"optdigits": _load_optdigits, "uji": _load_uji, "pendigits": _load_pendigits, "unipen": _load_unipen}


def load_real_set(name: str, root: str | Path, seed: int = 0, download: bool = True) -> RealSet:
    """The set ``name`` from its folder under ``root``, downloaded there first when it is not
    (train/realsets_download.py); DataError (one line) when it is missing, unreadable or cannot be fetched."""
    if name not in REAL_SETS:
        raise DataError(f"unknown real handwriting set {name!r}: train knows {', '.join(REAL_SETS)}")
    folder = Path(root) / REAL_SETS[name].folder
    if download:
        from train.realsets_download import ensure_real_set

        ensure_real_set(name, folder)
    elif not folder.is_dir():
        raise DataError(f"{folder}: no such folder (the {name} set; give its root with --real-data)")
    return _LOADERS[name](folder, seed)


def weighted(x: np.ndarray, y: np.ndarray, weight: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The digits repeated ``weight`` times per epoch: whole copies, then a seeded share for the fraction."""
    whole, fraction = int(weight), weight - int(weight)
    parts = [np.arange(len(y))] * whole
    if fraction > 0:
        rng = np.random.default_rng([seed, 15485863])
        parts.append(np.sort(rng.permutation(len(y))[: round(fraction * len(y))]))
    index = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return x[index], y[index]
