"""Atomic writes: a write that fails partway leaves the old file as it was and no temporary file behind.

The helper is tested directly (disk full while writing, at the flush, at the rename; Ctrl-C), then each
place that writes a file the user keeps is made to fail the same way: convert --embed-sidecar, the training
report, the printable sheet of ``device collect`` and ``device read --save-annotated``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from device.common import files
from device.common.files import PendingFile, write_atomic, write_new

OLD = b"the old content, which must survive\n"


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def only(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    path.write_bytes(OLD)
    os.chmod(path, 0o640)
    return path


def test_a_complete_write_replaces_the_file_and_keeps_its_mode(old_file: Path) -> None:
    write_atomic(old_file, b"new")
    assert old_file.read_bytes() == b"new"
    assert stat.S_IMODE(old_file.stat().st_mode) == 0o640
    assert only(old_file.parent) == ["model.json"]


def test_a_new_file_gets_the_mode_a_plain_open_would_give(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    write_atomic(path, "text")
    assert path.read_text() == "text"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_disk_full_halfway_through_a_writer_keeps_the_old_file(old_file: Path) -> None:
    def half_then_full(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(b"half of the new con")
        disk_full()

    with pytest.raises(OSError, match="No space"):
        write_atomic(old_file, half_then_full)
    assert old_file.read_bytes() == OLD
    assert only(old_file.parent) == ["model.json"]


def test_ctrl_c_during_a_write_keeps_the_old_file(old_file: Path) -> None:
    def interrupted(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(old_file, interrupted)
    assert old_file.read_bytes() == OLD
    assert only(old_file.parent) == ["model.json"]


@pytest.mark.parametrize("step", ["fsync", "replace", "chmod"])
def test_failure_at_flush_or_rename_keeps_the_old_file(old_file: Path, monkeypatch, step: str) -> None:
    monkeypatch.setattr(files.os, step, disk_full)
    with pytest.raises(OSError):
        write_atomic(old_file, b"new content" * 1000)
    monkeypatch.undo()
    assert old_file.read_bytes() == OLD
    assert only(old_file.parent) == ["model.json"]


def test_pending_file_keeps_the_suffix_for_writers_that_choose_a_format_by_it(tmp_path: Path) -> None:
    pending = PendingFile(tmp_path / "clip.mp4")
    assert pending.tmp.suffix == ".mp4" and pending.tmp.name.startswith(".clip.tmp-")
    assert not (tmp_path / "clip.mp4").exists()
    pending.tmp.write_bytes(b"frames")
    pending.commit()
    assert (tmp_path / "clip.mp4").read_bytes() == b"frames"
    assert only(tmp_path) == ["clip.mp4"]


def test_pending_file_discarded_on_error_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), PendingFile(tmp_path / "model.keras") as tmp:
        tmp.write_bytes(b"x")
        raise RuntimeError("save failed")
    assert only(tmp_path) == []


def test_write_new_never_replaces_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "00000.png").write_bytes(b"earlier run")
    path, index = write_new(tmp_path, b"new digit", "{:05d}.png", 0)
    assert (path.name, index) == ("00001.png", 1)
    assert (tmp_path / "00000.png").read_bytes() == b"earlier run"
    assert only(tmp_path) == ["00000.png", "00001.png"]


def test_write_new_that_fails_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_new(tmp_path, b"digit", "{:05d}.png", 0)
    monkeypatch.undo()
    assert only(tmp_path) == []


# --------------------------------------------------------------------------------------------
# The places that write files go through the helper
# --------------------------------------------------------------------------------------------
def test_embedding_a_sidecar_failing_keeps_the_old_model(tmp_path: Path, monkeypatch) -> None:
    from convert.embed import embed_sidecar
    from device.recognition.modelinfo import sidecar_path
    from tests.model_files import old_form_model

    model = old_form_model(tmp_path / "digits.tflite")
    before = model.read_bytes()
    monkeypatch.setattr(files.os, "replace", disk_full)
    with pytest.raises(OSError):
        embed_sidecar(model)
    monkeypatch.undo()
    assert model.read_bytes() == before
    assert only(tmp_path) == [sidecar_path(model).name, model.name]


def test_training_report_write_failing_keeps_the_old_report(tmp_path: Path, monkeypatch) -> None:
    from device.tools.evaluate import evaluation
    from train.report import write_report

    (tmp_path / "report.md").write_bytes(OLD)
    result = evaluation("MNIST test", np.array([1, 2, 3]), np.array([1, 2, 2]))
    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_report(tmp_path, "train ...", {"recipe": "paper"}, [(result, "confusion.png")])
    monkeypatch.undo()
    assert (tmp_path / "report.md").read_bytes() == OLD
    assert only(tmp_path) == ["report.md"]


def test_printable_sheet_write_failing_keeps_the_old_sheet(tmp_path: Path, monkeypatch) -> None:
    from device.tools.collect import write_sheet

    sheet = tmp_path / "sheet.svg"
    sheet.write_bytes(OLD)
    monkeypatch.setattr(files.os, "replace", disk_full)
    with pytest.raises(OSError):
        write_sheet(sheet)
    monkeypatch.undo()
    assert sheet.read_bytes() == OLD
    assert only(tmp_path) == ["sheet.svg"]


def test_annotated_image_write_failing_is_one_line_and_keeps_the_old_image(tmp_path: Path, monkeypatch, capsys) -> None:
    from device.cli import main

    sample = Path(__file__).resolve().parents[1] / "device" / "samples" / "sample_01.jpg"
    old = tmp_path / "sample_01_annotated.jpg"
    old.write_bytes(OLD)
    monkeypatch.setattr(files.os, "replace", disk_full)
    assert main(["read", str(sample), "--save-annotated", str(tmp_path)]) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1 and "No space" in err
    assert old.read_bytes() == OLD
    assert only(tmp_path) == ["sample_01_annotated.jpg"]
