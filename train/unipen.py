"""UNIPEN train_r01_v07, category 1a (isolated digits): pen trajectories read from the archive, and drawn.

The data (``../shared/data/unipen_1a/``, CC BY 4.0) is the CD-ROM's ``train_r01_v07/`` cut down to 1a:
``data/1a/<contributor>/...`` files hold ``.SEGMENT CHARACTER <delineation> <quality> "<digit>"`` lines and
``.INCLUDE`` (nested) the files under ``include/`` that hold the pen streams. The reading follows the UNIPEN 1.0
format definition (``unipen.def``) and its reference reader (uptools' uplib, ``upReadNextFile``):

- the components a delineation counts are the NON-EMPTY ``.PEN_DOWN`` and ``.PEN_UP`` streams, numbered from 0
  in order of appearance through every included file; ``.DT`` and empty streams (a bare ``.PEN_UP`` line that
  only ends a stroke) are not counted; the counter restarts with each ``data/1a`` file and at ``.START_SET``
  (``.START_BOX`` does not reset it);
- a delineation is ``A[:M]-B[:N]`` items joined by commas: components A to B, from point M of A to point N of
  B (points 0-based, M defaulting to 0 and N to the last point);
- only ``.PEN_DOWN`` points are ink: the pen-up streams inside a delineation are hover and are not drawn.

Counting ``.PEN_DOWN`` streams only is right for the contributors whose ``.PEN_UP`` lines are bare, and wrong
for the four that record the pen's path in the air as non-empty ``.PEN_UP`` streams: tos (26,325 of them),
pri (625), cea (1,002) and ceb (681). Counted that way, 262 segments (tos
252, ceb 10) point past the last stroke and every other segment of tos, pri, cea and ceb gets the wrong
strokes; counted as the format says, all 15,953 segments find their strokes. (One-point ``0 0`` streams,
written between boxes by tos, ibm, aga and val, count too, and no segment selects one.)

``read_unipen`` gives ``PenDigit``s with x to the right and y downwards (flipped per contributor, see
``_Y_UP``), ``load_unipen_cached`` keeps the parse as an .npz; train/pen_render.py draws them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

log = logging.getLogger(__name__)

_PARSER_VERSION = 1  # part of the cache key: bump when the parse changes what it returns
DEFAULT_CACHE = Path("~/.cache/zmg-digits").expanduser()
_MAX_INCLUDE_DEPTH = 8  # the data nests two deep (imp, pri); deeper is a loop or a broken file

# Which way y grows on each contributor's digitizer. The files do not say (.COORD is "X Y" everywhere, .PAD
# names the tablet, .X/Y_POINTS_PER_INCH or _MM give resolutions only), so it was read off each contributor's
# contact sheet (7's bar at the top, 6's loop and 9's stem at the bottom): all 17 record tablet coordinates, y
# growing upwards, and are flipped here; x grows to the right for all (no mirrored digit on any sheet).
_Y_UP: dict[str, bool] = dict.fromkeys(
    ("aga", "apa", "apb", "app", "art", "cea", "ceb", "ced", "gmd", "ibm", "imp", "lou", "pri", "syn", "tos",
     "uqb", "val"),
    True,
)
# Whole contributors left out, with the reason: none (every contact sheet reads right).
_EXCLUDED: dict[str, str] = {}
# Contributors who store .START_BOX boxes in their own frames (coordinates from the box's corner, so a lone
# stroke starts at exactly x = 0 and y = 0): in the last part of each ibm file the boxes hold one stroke each, a
# multi-stroke 4, 1, 0 or 8 is cut into boxes that are each labelled with the whole digit, and where the
# strokes sat relative to each other is lost. Its lone box-framed strokes (360 segments, whole 2s, 3s and 5s
# among the fragments) are skipped; boxes of several strokes keep their shared frame and are kept.
_BOX_FRAMED = frozenset({"ibm"})
# Files whose multi-stroke segments each hold several digits (the writer's row of single-stroke 0s was cut
# into segments of two to four 0s): those segments are skipped, the one-stroke segments of the file kept.
_MERGED_DIGITS = frozenset({"data/1a/val/gresai30.dat"})
# A point-addressed cut (ced's 380:1-380:7) sometimes keeps a few samples of the neighbouring digit's stroke:
# such a cut piece smaller than this share of the digit's size is dropped (it draws as a stray dot).
_STRAY_PIECE = 0.15


@dataclass(frozen=True)
class PenDigit:
    """One labelled digit: its pen-down strokes, each (n, 2) float32, x to the right and y downwards."""

    label: int
    strokes: list[np.ndarray]
    writer: str  # "contributor/WRITER_ID", or "contributor/file" for a file without a .WRITER_ID
    contributor: str


# ---------------------------------------------------------------- the files of train_r01_v07/


class _Tree:
    """The files of ``train_r01_v07/`` by their path inside it (posix), from the folder or the .tar.xz."""

    def __init__(self, root: Path) -> None:
        self._files: dict[str, bytes] = {}
        self._folder: Path | None = None
        if root.is_dir():
            self._folder = root / "train_r01_v07" if (root / "train_r01_v07" / "data").is_dir() else root
            paths = [p.relative_to(self._folder).as_posix() for p in self._folder.rglob("*") if p.is_file()]
        else:
            self._read_archive(root)
            paths = list(self._files)
        self.paths = sorted(paths)
        self._exact = set(self.paths)
        # some UNIPEN sets were made on systems that ignore case (every .INCLUDE of 1a matches exactly, though)
        self._lower = {p.lower(): p for p in self.paths}

    def _read_archive(self, archive: Path) -> None:
        # Held in memory (47 MB unpacked): the segment files and what they include are read in any order.
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = PurePosixPath(member.name).parts
                # Drop whatever leads up to train_r01_v07/ (./, or nothing when the archive holds its contents).
                if "train_r01_v07" in parts:
                    parts = parts[parts.index("train_r01_v07") + 1 :]
                handle = tar.extractfile(member)
                if handle is not None and parts:
                    self._files["/".join(parts)] = handle.read()
        if not any(p.startswith("data/1a/") for p in self._files):
            raise ValueError(f"{archive}: no data/1a/ in the archive (not UNIPEN train_r01_v07 1a)")

    def find(self, name: str) -> str | None:
        """The stored path of ``name`` (exact, else ignoring case), or None."""
        name = name.strip()
        while name.startswith("./"):
            name = name[2:]
        return name if name in self._exact else self._lower.get(name.lower())

    def text(self, path: str) -> str:
        # latin-1 never fails to decode: a stray byte in a comment must not lose a file
        data = self._files[path] if self._folder is None else (self._folder / path).read_bytes()
        return data.decode("latin-1")

    def segment_files(self) -> list[str]:
        return [p for p in self.paths if p.startswith("data/1a/") and p.count("/") >= 3]


# ---------------------------------------------------------------- parsing

_KEYWORD = re.compile(r"^\.([A-Z_]+)", re.M)  # an entry starts with .KEYWORD in the first column
_ITEM = re.compile(r"^(\d+)(?::(\d+))?(?:-(\d+)(?::(\d+))?)?$")
_SEGMENT = re.compile(r'^\s*(\S+)\s+(\S+)(?:\s+(\S+))?(?:\s+"((?:[^"\\]|\\.)*)")?', re.S)


@dataclass
class _Component:
    pen_down: bool
    body: str  # the numbers, parsed only when a segment uses the component
    coords: tuple[int, int, int]  # index of X, of Y, and numbers per point (from .COORD)
    y_scale: float  # X resolution over Y resolution: y multiplied by it keeps the aspect

    def points(self) -> np.ndarray:
        ix, iy, width = self.coords
        values = np.array(self.body.split(), dtype=np.float64)
        values = values[: len(values) - len(values) % width].reshape(-1, width)
        out = values[:, [ix, iy]]
        out[:, 1] *= self.y_scale
        return out


@dataclass
class _FileState:
    """What reading one data/1a file collects: its components, segments, writer and units so far."""

    components: list[_Component] = field(default_factory=list)
    segments: list[tuple[str, int]] = field(default_factory=list)  # (.SEGMENT arguments, set number)
    sets: list[list[_Component]] = field(default_factory=list)  # the components of each finished set
    writer: str | None = None
    coords: tuple[int, int, int] = (0, 1, 2)
    res: list[float] = field(default_factory=lambda: [1.0, 1.0])  # points per unit length in X, Y


def _note_resolution(state: _FileState, keyword: str, body: str) -> None:
    try:
        value = float(body.split()[0])
    except (IndexError, ValueError):
        return
    if value > 0:
        state.res[0 if keyword.startswith("X") else 1] = value * (25.4 if keyword.endswith("_MM") else 1.0)


def _read_file(tree: _Tree, path: str, state: _FileState, stack: tuple[str, ...]) -> None:
    """Read ``path``'s entries into ``state``, following .INCLUDE (UNIPEN's include path is include/, then the
    including file's folder)."""
    text = tree.text(path)
    matches = list(_KEYWORD.finditer(text))
    for i, match in enumerate(matches):
        keyword = match.group(1)
        body = text[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        if keyword in ("PEN_DOWN", "PEN_UP"):
            stripped = body.lstrip()
            # uplib's test for a stream with samples: its first argument starts like a number
            if stripped[:1] and stripped[0] in "-+0123456789":
                y_scale = state.res[0] / state.res[1]
                state.components.append(_Component(keyword == "PEN_DOWN", body, state.coords, y_scale))
        elif keyword == "SEGMENT":
            state.segments.append((body, len(state.sets)))
        elif keyword == "INCLUDE":
            name = body.split()[0] if body.split() else ""
            here = str(PurePosixPath(path).parent)
            found = tree.find(f"include/{name}") or tree.find(f"{here}/{name}") or tree.find(name)
            if found is None or found in stack or len(stack) >= _MAX_INCLUDE_DEPTH:
                # its segments then point past the streams read and are counted as out of range
                log.warning("%s: .INCLUDE %s not found, or including itself", path, name)
                continue
            _read_file(tree, found, state, (*stack, found))
        elif keyword == "START_SET":
            state.sets.append(state.components)
            state.components = []
        elif keyword == "WRITER_ID":
            words = body.split()
            state.writer = words[0] if words else state.writer
        elif keyword == "COORD":
            names = body.split()
            if "X" in names and "Y" in names:
                state.coords = (names.index("X"), names.index("Y"), len(names))
        elif keyword in ("X_POINTS_PER_INCH", "Y_POINTS_PER_INCH", "X_POINTS_PER_MM", "Y_POINTS_PER_MM"):
            _note_resolution(state, keyword, body)


def _parse_delineation(text: str) -> list[tuple[int, int, int, int | None]] | None:
    """``1:40-3,5,6:0-6:12`` as (first component, first point, last component, last point or None for the
    end) items; None when malformed."""
    items = []
    for part in text.split(","):
        match = _ITEM.match(part)
        if match is None:
            return None
        a, m, b, n = match.groups()
        first, last = int(a), int(b) if b is not None else int(a)
        if b is None and m is not None:
            items.append((first, int(m), first, None))  # a lone A:M: from point M to the end of A
        else:
            items.append((first, int(m or 0), last, int(n) if n is not None else None))
        if last < first:
            return None
    return items


def _segment_strokes(delineation: str, components: Sequence[_Component]) -> list[np.ndarray] | str:
    """The pen-down strokes a delineation selects, or the reason it selects none."""
    items = _parse_delineation(delineation)
    if items is None:
        return "malformed delineation"
    pieces: list[tuple[np.ndarray, bool]] = []  # (points, cut from a longer stroke)
    for first, start, last, end in items:
        if last >= len(components):
            return "component out of range"
        for c in range(first, last + 1):
            component = components[c]
            if not component.pen_down:
                continue  # hover between strokes: not ink
            points = component.points()  # a ValueError (a word among the numbers) skips the segment
            lo = start if c == first else 0
            hi = end + 1 if c == last and end is not None else len(points)
            if lo >= len(points):
                return "point out of range"
            if len(points[lo:hi]):
                pieces.append((points[lo:hi], lo > 0 or hi < len(points)))
    if not pieces:
        return "no pen-down points"
    size = float(np.ptp(np.concatenate([p for p, _ in pieces]), axis=0).max())
    kept = [p for p, cut in pieces if not cut or float(np.ptp(p, axis=0).max()) >= _STRAY_PIECE * size]
    return kept or [p for p, _ in pieces]


def _label(arguments: str) -> tuple[str, int | str]:
    """(delineation, digit) of a .SEGMENT's arguments, or (delineation, reason) when it is no digit segment."""
    match = _SEGMENT.match(arguments)
    if match is None:
        return "", "malformed segment"
    kind, delineation, _quality, label = match.groups()
    if kind.upper() != "CHARACTER":
        return delineation, "not a character segment"
    if delineation == "?":
        return delineation, "no delineation"
    if label is None or len(label) != 1 or label not in "0123456789":
        return delineation, "label not a digit"
    return delineation, int(label)


def _upright(strokes: list[np.ndarray], contributor: str) -> list[np.ndarray]:
    out = []
    for s in strokes:
        s = s.astype(np.float32)
        if _Y_UP.get(contributor, False):
            s[:, 1] = -s[:, 1]
        out.append(s)
    return out


def parse_unipen(root: str | Path) -> tuple[list[PenDigit], Counter[str]]:
    """Every digit of category 1a under ``root`` (the .tar.xz or the unpacked ``train_r01_v07/``), and the
    count of segments skipped by reason. Raises OSError/ValueError only for an unreadable ``root``; a broken
    file or segment is skipped and counted."""
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or folder")
    tree = _Tree(root)
    digits: list[PenDigit] = []
    skipped: Counter[str] = Counter()
    for path in tree.segment_files():
        contributor = path.split("/")[2]
        if contributor in _EXCLUDED:
            segments = sum(line.startswith(".SEGMENT") for line in tree.text(path).splitlines())
            skipped[f"excluded contributor {contributor}"] += segments
            continue
        state = _FileState()
        try:
            _read_file(tree, path, state, (path,))
        except (OSError, ValueError, UnicodeError) as err:
            log.warning("%s: unreadable (%s)", path, err)
            skipped["unreadable file"] += 1
            continue
        sets = [*state.sets, state.components]
        stem = str(PurePosixPath(path).relative_to(f"data/1a/{contributor}").with_suffix(""))
        writer = f"{contributor}/{state.writer if state.writer is not None else stem}"
        for arguments, set_number in state.segments:
            delineation, label = _label(arguments)
            if isinstance(label, str):
                skipped[label] += 1
                continue
            try:
                strokes = _segment_strokes(delineation, sets[set_number])
            except (ValueError, IndexError, OverflowError):  # whatever a broken stream holds: skip, never stop
                strokes = "unreadable points"
            if isinstance(strokes, str):
                skipped[strokes] += 1
                continue
            if contributor in _BOX_FRAMED and len(strokes) == 1 and not strokes[0].min(axis=0).any():
                skipped[f"{contributor}: lone stroke in its own box"] += 1
                continue
            if path in _MERGED_DIGITS and len(strokes) > 1:
                skipped[f"{path}: several digits in one segment"] += 1
                continue
            digits.append(PenDigit(label, _upright(strokes, contributor), writer, contributor))
    return digits, skipped


def read_unipen(root: str | Path) -> list[PenDigit]:
    """Every digit of category 1a under ``root`` (the .tar.xz or the unpacked ``train_r01_v07/``); skipped
    segments are logged by reason."""
    digits, skipped = parse_unipen(root)
    if skipped:
        log.info("UNIPEN: %d digits, skipped %s", len(digits), dict(skipped))
    return digits


def unipen_summary(digits: Iterable[PenDigit]) -> dict:
    """Counts: digits in all, per contributor, per label; writers in all and per contributor."""
    digits = list(digits)
    writers: dict[str, set[str]] = {}
    for d in digits:
        writers.setdefault(d.contributor, set()).add(d.writer)
    return {
        "digits": len(digits),
        "per_contributor": dict(sorted(Counter(d.contributor for d in digits).items())),
        "per_label": dict(sorted(Counter(d.label for d in digits).items())),
        "writers": sum(len(w) for w in writers.values()),
        "writers_per_contributor": {c: len(w) for c, w in sorted(writers.items())},
    }


# ---------------------------------------------------------------- cache


def _source_key(root: Path) -> str:
    """What the parse depends on: the archive's size and mtime (or every file's, for a folder), the parser."""
    if root.is_dir():
        parts = [f"{p.relative_to(root)}:{s.st_size}:{s.st_mtime_ns}" for p in sorted(root.rglob("*"))
                 if p.is_file() and (s := p.stat())]
    else:
        stat = root.stat()
        parts = [f"{root.name}:{stat.st_size}:{stat.st_mtime_ns}"]
    parts.append(f"parser={_PARSER_VERSION} y_up={sorted(_Y_UP.items())} excluded={sorted(_EXCLUDED)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _save(path: Path, digits: list[PenDigit], key: str) -> None:
    strokes = [s for d in digits for s in d.strokes]
    points = np.concatenate(strokes).astype(np.float32) if strokes else np.zeros((0, 2), np.float32)
    stroke_ends = np.cumsum([len(s) for s in strokes], dtype=np.int64)
    digit_ends = np.cumsum([len(d.strokes) for d in digits], dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(
        temporary,
        key=np.array(key),
        points=points,
        stroke_offsets=np.r_[0, stroke_ends].astype(np.int64),
        digit_offsets=np.r_[0, digit_ends].astype(np.int64),
        labels=np.array([d.label for d in digits], np.int8),
        writers=np.array([d.writer for d in digits], dtype=str),
        contributors=np.array([d.contributor for d in digits], dtype=str),
    )
    os.replace(temporary, path)  # a reader never sees half a file


def _load(path: Path, key: str) -> list[PenDigit] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            points, so, do = data["points"], data["stroke_offsets"], data["digit_offsets"]
            labels, writers, contributors = data["labels"], data["writers"], data["contributors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing, stale or damaged: parse again
    strokes = [points[so[i] : so[i + 1]] for i in range(len(so) - 1)]
    return [
        PenDigit(int(labels[i]), strokes[do[i] : do[i + 1]], str(writers[i]), str(contributors[i]))
        for i in range(len(labels))
    ]


def load_unipen_cached(root: str | Path, cache: Path | None = None) -> list[PenDigit]:
    """``read_unipen(root)``, kept as an .npz in the folder ``cache`` (None: ``~/.cache/zmg-digits/``) under
    a name from the archive's size and mtime and the parser's version; a cache that cannot be written is
    only logged."""
    root = Path(root).expanduser()
    key = _source_key(root)
    path = Path(cache if cache is not None else DEFAULT_CACHE).expanduser() / f"unipen1a-{key[:16]}.npz"
    digits = _load(path, key)
    if digits is not None:
        return digits
    digits = read_unipen(root)
    try:
        _save(path, digits, key)
    except OSError as err:
        log.warning("UNIPEN cache %s not written (%s)", path, err)
    return digits
