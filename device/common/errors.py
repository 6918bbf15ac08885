"""One-line error texts: what a user sees of an exception."""

from __future__ import annotations

import sys


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message, or its type's name when it has none.

    ``limit`` cuts very long first lines (some libraries put a whole dump there).
    """
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


def os_error_text(exc: OSError) -> str:
    """What went wrong with a file, without the errno and path that ``str(OSError)`` repeats."""
    return exc.strerror or first_line(exc)


def warn(message: str, program: str = "device") -> None:
    """A one-line warning on standard error: something was skipped, the work goes on."""
    print(f"{program}: warning: {message}", file=sys.stderr)
