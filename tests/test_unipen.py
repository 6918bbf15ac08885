"""UNIPEN 1a reading (train/unipen.py): a synthetic train_r01_v07 in the UNIPEN format, and the real archive
when it is there."""

from __future__ import annotations

import os
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from train import unipen
from train.pen_render import draw_strokes
from train.unipen import PenDigit, load_unipen_cached, parse_unipen, read_unipen, unipen_summary

REAL_ARCHIVE = Path("/work/shared/data/unipen_1a/unipen_1a.tar.xz")
CONTRIBUTORS = ("aga", "apa", "apb", "app", "art", "cea", "ceb", "ced", "gmd", "ibm", "imp", "lou", "pri", "syn",
                "tos", "uqb", "val")


def _stream(keyword: str, points: list[tuple[float, float]]) -> str:
    return f".{keyword}\n" + "".join(f"{x:g} {y:g}\n" for x, y in points)


# tos records tablet coordinates (y grows upwards) and non-empty pen-up streams, as the real files do.
_TOS_DOC = """.VERSION 1.0
.DATA_SOURCE test
.COORD X Y
.X_POINTS_PER_MM 10
.Y_POINTS_PER_MM 10
"""
_TOS_DATA = "\n".join([
    ".INCLUDE tos/writer.inc",  # nested: the writer's file is included by the included data file
    _stream("PEN_DOWN", [(0, 100), (60, 100), (60, 100), (20, 0)]),  # 0: a 7, bar at the top (y up)
    ".PEN_UP",  # bare: ends the stroke, not a component
    _stream("PEN_UP", [(60, 0), (70, 10)]),  # 1: the pen in the air: counted, never drawn
    _stream("PEN_DOWN", [(50, 100), (50, 0)]),  # 2: a 1
    ".PEN_UP",
    ".DT 120",  # elided time: not a component
    _stream("PEN_DOWN", [(0, 100), (0, 40), (60, 40)]),  # 3: first stroke of a 4
    ".PEN_UP",
    _stream("PEN_DOWN", [(45, 100), (45, 0)]),  # 4: its stem
    ".PEN_UP",
    _stream("PEN_DOWN", [(10, 100), (10, 75), (10, 50), (10, 25), (10, 0), (30, 0), (50, 0), (70, 0)]),  # 5
    ".PEN_UP",
    ".PEN_DOWN\n1 2 x 4\n",  # 6: a word among the numbers
    ".PEN_UP",
])
_TOS_DATA_2 = _stream("PEN_DOWN", [(0, 0), (0, 100)]) + ".PEN_UP\n"  # component 0 of the second set
_TOS_SEGMENTS = """.VERSION 1.0
.INCLUDE tos/test.doc
.INCLUDE tos/data/t1/w1.dat
.SEGMENT CHARACTER 0 OK "7"
.SEGMENT CHARACTER 2 ? "1"
.SEGMENT CHARACTER 3-4 OK "4"
.SEGMENT CHARACTER 1-2 OK "1"
.SEGMENT CHARACTER 5:0-5:4 OK "1"
.SEGMENT CHARACTER 0,2 OK "9"
.SEGMENT CHARACTER 3-x7 ? "2"
.SEGMENT CHARACTER 99 ? "3"
.SEGMENT CHARACTER 5:20-5 ? "3"
.SEGMENT CHARACTER 6 ? "3"
.SEGMENT CHARACTER 2 ? "A"
.SEGMENT CHARACTER 2 ? "12"
.SEGMENT WORD 2-4 ? "14"
.SEGMENT
.START_SET second
.COMMENT the component counter starts again
.INCLUDE tos/data/t1/w2.dat
.SEGMENT CHARACTER 0 ? "1"
"""
# aga: no .WRITER_ID (the writer key falls back to the file), and unequal X and Y resolutions.
_AGA_DATA = "\n".join([
    ".VERSION 1.0",
    ".COORD X Y",
    ".X_POINTS_PER_INCH 100",
    ".Y_POINTS_PER_INCH 200",
    _stream("PEN_DOWN", [(0, 0), (100, 200)]),
    ".PEN_UP",
    _stream("PEN_DOWN", [(5, 5)]),
    ".PEN_UP",
])
_AGA_SEGMENTS = """.VERSION 1.0
.INCLUDE aga/data/f.dat
.SEGMENT CHARACTER 0 ? "1"
.SEGMENT CHARACTER 1 ? "0"
"""


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A tiny train_r01_v07/ of two contributors, and a third whose data file is missing."""
    root = tmp_path / "train_r01_v07"
    files = {
        "data/1a/tos/t1/w1.dat": _TOS_SEGMENTS,
        "include/tos/test.doc": _TOS_DOC,
        "include/tos/writer.inc": ".WRITER_ID 3007\n.STYLE PRINTED\n",
        "include/tos/data/t1/w1.dat": _TOS_DATA,
        "include/tos/data/t1/w2.dat": _TOS_DATA_2,
        "data/1a/aga/f.dat": _AGA_SEGMENTS,
        "include/aga/data/f.dat": _AGA_DATA,
        "data/1a/art/lost.dat": '.VERSION 1.0\n.INCLUDE art/data/gone.dat\n.SEGMENT CHARACTER 0 ? "5"\n',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture()
def archive(tree: Path, tmp_path: Path) -> Path:
    path = tmp_path / "unipen_1a.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        tar.add(tree, arcname="train_r01_v07")
    return path


def _by_label(digits: list[PenDigit], contributor: str) -> list[tuple[int, int]]:
    return [(d.label, len(d.strokes)) for d in digits if d.contributor == contributor]


def test_segments_labels_and_strokes(tree: Path) -> None:
    digits, skipped = parse_unipen(tree)
    # tos: non-empty pen-up streams are counted (so "2" is the 1), never drawn; ranges, lists, point addressing
    assert _by_label(digits, "tos") == [(7, 1), (1, 1), (4, 2), (1, 1), (1, 1), (9, 2), (1, 1)]
    tos = [d for d in digits if d.contributor == "tos"]
    assert len(tos[0].strokes[0]) == 4
    assert np.array_equal(tos[4].strokes[0][:, 0], np.full(5, 10.0))  # 5:0-5:4: the vertical part only
    assert all(s.dtype == np.float32 and s.ndim == 2 and s.shape[1] == 2 for d in digits for s in d.strokes)
    assert skipped == {
        "malformed delineation": 1, "component out of range": 2, "point out of range": 1, "unreadable points": 1,
        "label not a digit": 2, "not a character segment": 1, "malformed segment": 1,
    }


def test_writers_and_contributors(tree: Path) -> None:
    digits = read_unipen(tree)
    assert {d.writer for d in digits if d.contributor == "tos"} == {"tos/3007"}  # from the nested include
    assert {d.writer for d in digits if d.contributor == "aga"} == {"aga/f"}  # no .WRITER_ID: the file
    summary = unipen_summary(digits)
    assert summary["digits"] == 9
    assert summary["per_contributor"] == {"aga": 2, "tos": 7}
    assert summary["per_label"] == {0: 1, 1: 5, 4: 1, 7: 1, 9: 1}
    assert summary["writers"] == 2


def test_excluded_contributor(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unipen, "_EXCLUDED", {"aga": "a reason"})
    digits, skipped = parse_unipen(tree)
    assert {d.contributor for d in digits} == {"tos"}
    assert skipped["excluded contributor aga"] == 2


def test_orientation_and_aspect(tree: Path) -> None:
    digits = read_unipen(tree)
    seven = next(d for d in digits if d.label == 7)
    points = seven.strokes[0]
    assert points[0, 1] < points[-1, 1]  # the bar (written first) is above the foot once y points down
    line = next(d for d in digits if d.contributor == "aga" and d.label == 1).strokes[0]
    assert np.ptp(line[:, 0]) == pytest.approx(np.ptp(line[:, 1]))  # 100 x 200 points at 100 and 200 per inch
    image = draw_strokes(seven.strokes, 2.0)
    half = image.shape[0] // 2
    assert image[:half].sum() > image[half:].sum()  # upright: the bar's ink at the top
    assert np.argmax((image > 128).sum(axis=1)) < image.shape[0] / 3  # the widest row is the bar


def test_archive_reads_like_folder(tree: Path, archive: Path) -> None:
    a, b = read_unipen(tree), read_unipen(archive)
    assert [(d.label, d.writer, d.contributor) for d in a] == [(d.label, d.writer, d.contributor) for d in b]
    for x, y in zip(a, b, strict=True):
        assert all(np.array_equal(s, t) for s, t in zip(x.strokes, y.strokes, strict=True))


def test_not_unipen(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_unipen(tmp_path / "missing.tar.xz")
    bad = tmp_path / "other.tar.xz"
    with tarfile.open(bad, "w:xz") as tar:
        (tmp_path / "x.txt").write_text("x")
        tar.add(tmp_path / "x.txt", arcname="x.txt")
    with pytest.raises(ValueError, match="data/1a"):
        read_unipen(bad)


def test_cache_round_trip(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = load_unipen_cached(archive, cache)
    assert len(list(cache.glob("*.npz"))) == 1

    def parse_again(root: object) -> list[PenDigit]:
        raise AssertionError("parsed again although cached")

    monkeypatch.setattr(unipen, "read_unipen", parse_again)
    second = load_unipen_cached(archive, cache)
    assert [(d.label, d.writer, d.contributor) for d in first] == [(d.label, d.writer, d.contributor) for d in second]
    for x, y in zip(first, second, strict=True):
        assert len(x.strokes) == len(y.strokes)
        assert all(np.array_equal(s, t) and t.dtype == np.float32 for s, t in zip(x.strokes, y.strokes, strict=True))
    # a damaged cache is parsed again, and replaced
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"not a zip")
    monkeypatch.undo()
    assert len(load_unipen_cached(archive, cache)) == len(first)
    monkeypatch.setattr(unipen, "read_unipen", parse_again)
    assert len(load_unipen_cached(archive, cache)) == len(first)
    # a changed archive (its mtime) is parsed again
    stat = archive.stat()
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="parsed again"):
        load_unipen_cached(archive, cache)


@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason=f"{REAL_ARCHIVE} not here (the shared data)")
def test_real_archive() -> None:
    start = time.perf_counter()
    digits, skipped = parse_unipen(REAL_ARCHIVE)
    assert time.perf_counter() - start < 30
    # every one of the 15,953 segments is read; 370 are left out on purpose (see unipen.py), none lost
    assert len(digits) + sum(skipped.values()) == 15953
    assert len(digits) == 15583
    assert skipped == {"ibm: lone stroke in its own box": 360,
                       "data/1a/val/gresai30.dat: several digits in one segment": 10}
    summary = unipen_summary(digits)
    assert tuple(summary["per_contributor"]) == CONTRIBUTORS
    assert summary["writers"] == 268
    assert set(summary["per_label"]) == set(range(10))
