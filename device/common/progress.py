"""Progress bars for long work: tqdm on standard error, or a silent stand-in where tqdm is missing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class _Silent:
    """Stands in for a tqdm bar where tqdm is not installed (it is optional on a Pi)."""

    def __init__(self, iterable: Iterable[Any] | None = None, **_kwargs: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable or ())

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, _n: int = 1) -> None:
        pass

    @staticmethod
    def write(text: str, **kwargs: Any) -> None:
        print(text, **kwargs)


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """A tqdm progress bar (on standard error), or a silent stand-in when tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _Silent(iterable, **kwargs)
    return tqdm(iterable, **kwargs)
