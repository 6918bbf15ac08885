"""Downloading a real handwriting set: checked by sha256, nothing half-made kept, present sets left alone.

No network here: the fetch is a function that copies local files, given where ``keras.utils.get_file`` would
download.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from device.data.digitsets import DataError
from train import realsets_download as dl
from train.realsets import load_real_set


def optdigits_text(labels: list[int]) -> str:
    header = ["BU handwritten digit database: a test"] + [f"line {i}" for i in range(20)]
    blocks = []
    for label in labels:
        rows = ["0" * 12 + "1" * 8 + "0" * 12] * 32
        blocks += [*rows, f" {label}"]
    return "\n".join(header + blocks) + "\n"


@pytest.fixture
def served(tmp_path, monkeypatch) -> dict[str, bytes]:
    """The recorded files as a server would give them; the table points at their own sha256s."""
    files = {
        "source/optdigits-orig.tra": optdigits_text([1, 7, 4]).encode(),
        "source/optdigits-orig.cv": optdigits_text([0, 9]).encode(),
        "source/ujipenchars2.json": json.dumps({"rawData": {str(d): [[[[0, 0], [10, 40]]]] * 4
                                                            for d in range(10)}}).encode(),
    }
    table = {name: tuple(dl.Download(f"https://example.org/{item.path}",
                                     hashlib.sha256(files[item.path]).hexdigest(), item.path) for item in items)
             for name, items in dl.DOWNLOADS.items() if name != "pendigits"}
    monkeypatch.setattr(dl, "DOWNLOADS", table)
    return {f"https://example.org/{path}": data for path, data in files.items()}


def fetch_from(served: dict[str, bytes], calls: list[str]):
    def fetch(url: str, destination: Path) -> None:
        calls.append(url)
        if url not in served:
            raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")
        destination.write_bytes(served[url])
    return fetch


def test_a_missing_set_is_downloaded_checked_and_made_as_staged(tmp_path, served):
    calls: list[str] = []
    folder = tmp_path / "optdigits_train"
    dl.ensure_real_set("optdigits", folder, fetch_from(served, calls))
    assert len(calls) == 2
    with np.load(folder / "optdigits_train.npz") as data:
        assert data["x32"].shape == (5, 32, 32) and data["y"].tolist() == [1, 7, 4, 0, 9]
        assert data["split"].tolist() == [0, 0, 0, 1, 1]
    dl.ensure_real_set("optdigits", folder, fetch_from(served, calls))
    assert len(calls) == 2  # there already: nothing fetched again
    assert not list(folder.rglob("*.part"))


def test_a_file_that_is_not_the_recorded_one_is_refused_and_not_kept(tmp_path, served):
    url = next(iter(u for u in served if u.endswith("ujipenchars2.json")))
    served[url] = b'{"rawData": {}}'
    folder = tmp_path / "uji_pen_chars"
    with pytest.raises(DataError, match=r"sha256 .* expected .*nothing kept"):
        dl.ensure_real_set("uji", folder, fetch_from(served, []))
    assert not list(folder.rglob("*.json")) and not list(folder.rglob("*.part"))


def test_no_network_is_one_line(tmp_path, served):
    with pytest.raises(DataError, match=r"cannot download https://example.org/.*name resolution"):
        dl.ensure_real_set("uji", tmp_path / "uji_pen_chars", fetch_from({}, []))


def test_a_downloaded_set_loads(tmp_path, served, monkeypatch):
    monkeypatch.setattr(dl, "_fetch_with_keras", fetch_from(served, []))
    uji = load_real_set("uji", tmp_path, seed=0)
    assert len(uji) == 40 and uji.held_out.any()


def test_unipen_is_checked_by_what_it_holds(tmp_path):
    def fetch(url: str, destination: Path) -> None:
        import zipfile

        with zipfile.ZipFile(destination, "w") as z:
            z.writestr("train_r01_v07-abc/data/1a/xxx/w1.dat", '.SEGMENT CHARACTER 0 ? "1"\n')
    with pytest.raises(DataError, match=r"holds 0 digits .*15583 recorded; nothing kept"):
        dl.ensure_real_set("unipen", tmp_path / "unipen_1a", fetch)
    assert not (tmp_path / "unipen_1a").exists() and not list(tmp_path.iterdir())


def test_optdigits_text_that_is_not_optdigits():
    with pytest.raises(DataError, match="not an optdigits-orig file"):
        dl.optdigits_bitmaps("\n" * 21 + "0101\n")
