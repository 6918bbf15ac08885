"""Files written whole or not at all, the one way every part of the project writes them.

A file is written to a temporary name in its own folder and renamed over its target only once it is
complete (``os.replace`` is atomic on POSIX): a reader, a crash, a full disk or Ctrl-C never leaves a
half-written model, report, image or video behind, and an existing file stays as it was until its
replacement is whole. The new file gets the mode the old one had, else what a plain ``open()`` gives.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

Writer = Callable[[Path], None]  # writes a complete file at the path it is given


@functools.cache
def _umask() -> int:
    # Read once: setting and restoring the umask is the only portable way, and is not thread-safe.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file (0o644 under the usual umask)."""
    return 0o666 & ~_umask()


def new_file_mode(path: str | Path) -> int:
    """The mode ``path`` already has, else ``default_file_mode()``."""
    try:
        return Path(path).stat().st_mode & 0o777
    except FileNotFoundError:
        return default_file_mode()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PendingFile:
    """A temporary file beside ``path`` that becomes ``path`` on ``commit()`` and vanishes on ``discard()``.

    For writers that take a while (a video recorded frame by frame) or need a file name of their own
    (``model.save``, ``savefig``): ``tmp`` keeps the target's suffix, so formats chosen by suffix work.
    As a context manager it commits when the block ends normally and discards on any exception.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Hidden, marked as temporary, and ending in the target's own suffix (".keras", ".avi").
        fd, name = tempfile.mkstemp(prefix=f".{self.path.stem}.tmp-", suffix=self.path.suffix,
                                    dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(name)
        self.done = False

    def commit(self) -> Path:
        """Flush the temporary file to disk and rename it over ``path``; returns ``path``."""
        try:
            _fsync_path(self.tmp)
            os.chmod(self.tmp, new_file_mode(self.path))  # mkstemp makes 0600; a service must read a model
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        self.done = True
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; ``path`` is left as it was."""
        self.tmp.unlink(missing_ok=True)
        self.done = True

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.done:
            return
        if kind is None:
            self.commit()
        else:
            self.discard()


def write_atomic(path: str | Path, content: bytes | str | Writer) -> Path:
    """Write ``content`` (bytes, UTF-8 text, or a function that writes a file at a path) to ``path`` atomically.

    The folder must exist. On any failure, ``path`` keeps its old content and no temporary file is left.
    """
    with PendingFile(path) as tmp:
        if callable(content):
            content(tmp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            with open(tmp, "wb") as f:
                f.write(data)
    return Path(path)


def write_new(folder: str | Path, content: bytes, name_pattern: str, start: int = 0) -> tuple[Path, int]:
    """Write ``content`` under the first free name ``name_pattern.format(i)``, i >= ``start``; never over a file.

    Returns (path, i). The complete temporary file is hard-linked to its final name, which fails if the
    name exists (another run writing into the same folder); file systems without hard links (FAT on a
    USB stick) reserve the name with O_EXCL first and then replace the empty reservation.
    """
    folder = Path(folder)
    pending = PendingFile(folder / ".new")
    try:
        with open(pending.tmp, "wb") as f:
            f.write(content)
        _fsync_path(pending.tmp)
        os.chmod(pending.tmp, default_file_mode())
        index = start
        while True:
            final = folder / name_pattern.format(index)
            try:
                os.link(pending.tmp, final)
                return final, index
            except FileExistsError:
                index += 1
            except OSError:  # no hard links on this file system
                try:
                    os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                except FileExistsError:
                    index += 1
                    continue
                os.replace(pending.tmp, final)
                return final, index
    finally:
        pending.discard()


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, as hex, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
