"""Getting the real handwriting sets onto a user's machine, the way Keras gets MNIST: each file from a recorded
address (a public repository at a fixed commit that holds the owners' files byte for byte, docs/data.md), checked
against its sha256 before it is used.

``ensure_real_set(name, root)`` does nothing when the set's folder under ``root`` already holds it (the layout
of ``../shared/data``, where the sets are staged), and otherwise downloads it there. UNIPEN comes as the
whole repository's archive at its commit, whose bytes GitHub does not promise to keep: it is checked by what it
holds instead (the digits parsed, and a digest of their labels and points).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.common.errors import first_line
from device.common.files import file_sha256, write_atomic
from device.data.digitsets import DataError

_OPTDIGITS = "https://raw.githubusercontent.com/adpeiter/KohonenSOM/70b01022916f09f2e11d189ddad1619643703199/database"
_UJI = "https://raw.githubusercontent.com/bridger/NumberPad/de2f2285144d16346bffdd37b94af75eb6fa2d13/Data"
_PENDIGITS = "https://raw.githubusercontent.com/dmallon/net/aa7addb57ea2c164ec1bcd1c166cb769773c76b2/data"
UNIPEN_ARCHIVE = ("https://github.com/GreenCappuccino/train_r01_v07/archive/"
                  "552a4d440bc94bb34710650c0826be7deb986f7c.zip")
UNIPEN_DIGITS = 15_583  # what train/unipen.py reads from category 1a
# unipen_digest of what train/unipen.py reads from the staged archive (../shared/data/unipen_1a, sha256 d5a59daf...)
UNIPEN_DIGEST = "b3b6eb272cf18d22e15c778fc4d59d324ebb55614132dc31067c1eea631f0e23"


@dataclass(frozen=True)
class Download:
    url: str
    sha256: str
    path: str  # where it goes inside the set's folder


DOWNLOADS: dict[str, tuple[Download, ...]] = {
    "optdigits": (
        Download(f"{_OPTDIGITS}/optdigits-orig.tra",
                 "a4eff709680076cae40420343de292b5960fc2b0da439b8a57c3d14124113bda", "source/optdigits-orig.tra"),
        Download(f"{_OPTDIGITS}/optdigits-orig.cv",
                 "530979b5faa196b731d4853a9cd785c1322e4a7f2d450032b34ff5833e953c43", "source/optdigits-orig.cv"),
    ),
    "uji": (Download(f"{_UJI}/ujipenchars2.json",
                     "e09d00763f0ff33a98f5e2d14b3140c41423b27497af543c9cef4cdc1f3edc31", "source/ujipenchars2.json"),),
    "pendigits": (
        Download(f"{_PENDIGITS}/pendigits.tra",
                 "e2b9eb9f0d0467e2b64a4816a3420edf2b8043447576f4b84337aba44a9f97d3", "source/pendigits.tra"),
        Download(f"{_PENDIGITS}/pendigits.tes",
                 "8bd03229c5c5291fefe43e45465dd948d2645bf23328b9d993e0b777666b2015", "source/pendigits.tes"),
    ),
}
# What marks a set as present in its folder (staged or downloaded).
PRESENT = {"optdigits": "optdigits_train.npz", "uji": "source/ujipenchars2.json",
           "pendigits": "source/pendigits.tes"}  # UNIPEN: its archive, or the unpacked data/1a

Fetch = Callable[[str, Path], None]  # (url, destination file)


def _fetch_with_keras(url: str, destination: Path) -> None:
    import keras  # the training side only

    downloaded = keras.utils.get_file(fname=destination.name, origin=url, cache_dir=str(destination.parent),
                                      cache_subdir=".")
    if Path(downloaded).resolve() != destination.resolve():
        shutil.move(downloaded, destination)


def _download(item: Download, folder: Path, fetch: Fetch) -> None:
    destination = folder / item.path
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        fetch(item.url, partial)
    except Exception as err:  # urllib, ssl and Keras raise many types; the message is what matters
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot download {item.url} ({first_line(err, 100)}); or put the set in {folder} "
                        "(--real-data: docs/train.md)") from None
    found = file_sha256(partial)
    if found != item.sha256:
        partial.unlink(missing_ok=True)
        raise DataError(f"{item.url}: sha256 {found[:16]}..., expected {item.sha256[:16]}...: not the file "
                        "recorded; nothing kept")
    partial.replace(destination)


def optdigits_bitmaps(text: str) -> tuple[np.ndarray, np.ndarray]:
    """UCI's optdigits-orig file (21 header lines, then 32 rows of 32 '0'/'1' and a label line per digit) ->
    (N, 32, 32) uint8 bitmaps (ink 255), (N,) digits."""
    lines = [line.strip() for line in text.splitlines()[21:] if line.strip()]
    if len(lines) % 33:
        raise DataError("not an optdigits-orig file (blocks of 32 rows and a label)")
    blocks = [lines[i : i + 33] for i in range(0, len(lines), 33)]
    try:
        bitmaps = np.array([[[255 if c == "1" else 0 for c in row] for row in b[:32]] for b in blocks], np.uint8)
        labels = np.array([int(b[32]) for b in blocks], np.uint8)
    except ValueError as err:
        raise DataError(f"not an optdigits-orig file ({first_line(err)})") from None
    if bitmaps.shape[1:] != (32, 32):
        raise DataError("not an optdigits-orig file (rows are not 32 wide)")
    return bitmaps, labels


def _make_optdigits_npz(folder: Path) -> None:
    """optdigits_train.npz (x32, y, split) from the two downloaded files, as ../shared/data stages it."""
    parts = [optdigits_bitmaps((folder / d.path).read_text(encoding="ascii")) for d in DOWNLOADS["optdigits"]]
    split = np.concatenate([np.full(len(p[1]), i, np.uint8) for i, p in enumerate(parts)])
    arrays = {"x32": np.concatenate([p[0] for p in parts]), "y": np.concatenate([p[1] for p in parts]),
              "split": split}
    def save(path: Path) -> None:
        with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to a temporary file's name
            np.savez(f, **arrays)

    write_atomic(folder / "optdigits_train.npz", save)


def unipen_digest(digits) -> str:
    """A digest of UNIPEN's parsed digits (labels, writers, points rounded to 0.01): the same for any archive
    that holds the same files."""
    digest = hashlib.sha256()
    for d in digits:
        digest.update(f"{d.label}|{d.writer}|".encode())
        for stroke in d.strokes:
            digest.update(np.round(np.asarray(stroke, np.float64), 2).tobytes())
    return digest.hexdigest()


def _download_unipen(folder: Path, fetch: Fetch) -> None:
    import zipfile

    from train.unipen import read_unipen

    archive = folder.with_name(folder.name + ".zip.part")
    try:
        fetch(UNIPEN_ARCHIVE, archive)
        with zipfile.ZipFile(archive) as zipped:
            unpacked = folder.with_name(folder.name + ".unpacking")
            shutil.rmtree(unpacked, ignore_errors=True)
            zipped.extractall(unpacked)
    except Exception as err:  # network, zip and disk errors alike: one line, nothing half-made kept
        archive.unlink(missing_ok=True)
        raise DataError(f"cannot download UNIPEN ({first_line(err, 100)}); or put unipen_1a.tar.xz or the unpacked "
                        f"repository in {folder} (--real-data: docs/train.md)") from None
    archive.unlink(missing_ok=True)
    tops = [p for p in unpacked.iterdir() if p.is_dir()]
    top = tops[0] if len(tops) == 1 else unpacked  # GitHub's archive holds one folder, NAME-COMMIT/
    try:
        digits = read_unipen(top)
    except (OSError, ValueError) as err:
        digits = []
        print(f"train: UNIPEN archive unreadable ({first_line(err)})")
    if len(digits) != UNIPEN_DIGITS or unipen_digest(digits) != UNIPEN_DIGEST:
        shutil.rmtree(unpacked, ignore_errors=True)
        raise DataError(f"{UNIPEN_ARCHIVE}: holds {len(digits)} digits or other points than the "
                        f"{UNIPEN_DIGITS} recorded; nothing kept")
    top.replace(folder)
    shutil.rmtree(unpacked, ignore_errors=True)


def is_present(name: str, folder: Path) -> bool:
    if name == "unipen":
        return any((folder / p).exists() for p in ("unipen_1a.tar.xz", "data/1a", "train_r01_v07/data/1a"))
    return (folder / PRESENT[name]).is_file()


def ensure_real_set(name: str, folder: Path, fetch: Fetch | None = None) -> None:
    """Download the set ``name`` into ``folder`` unless it is there already; DataError (one line) on failure."""
    if folder.is_dir() and is_present(name, folder):
        return
    fetch = fetch or _fetch_with_keras
    print(f"train: downloading the {name} set into {folder}", flush=True)
    if name == "unipen":
        _download_unipen(folder, fetch)
        return
    folder.mkdir(parents=True, exist_ok=True)
    for item in DOWNLOADS[name]:
        _download(item, folder, fetch)
    if name == "optdigits":
        _make_optdigits_npz(folder)
