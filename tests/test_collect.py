"""device collect: a generated grid sheet, filled with MNIST digits and photographed, comes back labelled."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

import device.tools.collect as collect
from device.recognition.preprocess import normalize_digit
from device.tools.collect import camera, store
from device.tools.collect.camera import collect_live
from device.tools.collect.command import add_collect_parser, run_collect
from device.tools.collect.errors import CollectError
from device.tools.collect.grid import find_grid
from device.tools.collect.photos import collect_from_sheet
from device.tools.collect.sheet import (
    CELL_MM,
    FRAME_MM,
    frame_box_mm,
    render_sheet,
    sheet_shapes,
    text_placement,
)
from device.tools.collect.store import DigitWriter

PX_PER_MM = 5.0
EMPTY_CELLS = [(2, 5), (7, 0), (9, 9)]
SVG = "{http://www.w3.org/2000/svg}"


def filled_sheet(
    mnist: dict[str, np.ndarray], seed: int = 0
) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """The template with a different MNIST test digit of class r in each cell of row r, as dark ink."""
    rng = np.random.default_rng(seed)
    page = render_sheet(PX_PER_MM)
    left, top, _, _ = frame_box_mm()
    written = {}
    for row in range(10):
        of_class = np.flatnonzero(mnist["y_test"] == row)
        for col in range(10):
            if (row, col) in EMPTY_CELLS:
                continue
            digit = mnist["x_test"][of_class[col]]
            written[(row, col)] = digit
            size = int(CELL_MM * PX_PER_MM * rng.uniform(0.75, 0.95))
            ink = cv2.resize(255 - digit, (size, size), interpolation=cv2.INTER_LINEAR)
            cx = (left + FRAME_MM + (col + 0.5) * CELL_MM) * PX_PER_MM + rng.uniform(-3, 3)
            cy = (top + FRAME_MM + (row + 0.5) * CELL_MM) * PX_PER_MM + rng.uniform(-3, 3)
            x0, y0 = int(cx - size / 2), int(cy - size / 2)
            region = page[y0 : y0 + size, x0 : x0 + size]
            np.minimum(region, ink, out=region)
    return page, written


def photograph(page: np.ndarray, quarter_turns: int = 0, seed: int = 0) -> np.ndarray:
    """The sheet on a dark table: turned, in perspective, unevenly lit, noisy and slightly blurred."""
    rng = np.random.default_rng(seed)
    page = np.ascontiguousarray(np.rot90(page, quarter_turns))
    h, w = page.shape
    out_w, out_h = 1400, 1100
    scale = min(out_w / w, out_h / h) * 0.85
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[out_w / 2 + (x - w / 2) * scale, out_h / 2 + (y - h / 2) * scale] for x, y in src])
    dst += (rng.uniform(-0.06, 0.06, (4, 2)) * [w * scale, h * scale]).astype(np.float32)
    homography = cv2.getPerspectiveTransform(src, dst)
    photo = cv2.warpPerspective(page, homography, (out_w, out_h), borderValue=70).astype(np.float32)
    photo *= 0.75 + 0.25 * np.linspace(0, 1, out_w)[None, :]  # light from the right
    photo += rng.normal(0, 6, photo.shape)
    return cv2.GaussianBlur(np.clip(photo, 0, 255).astype(np.uint8), (3, 3), 0)


def _soft(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0).ravel()


def assert_cells_match(saved: dict[str, list[Path]], written: dict[tuple[int, int], np.ndarray]) -> None:
    """Each saved crop is the digit written in its own cell: it resembles that one most of its row."""
    for row in range(10):
        cols = [c for c in range(10) if (row, c) in written]
        files = saved.get(str(row), [])
        assert len(files) == len(cols), f"row {row}: {len(files)} files for {len(cols)} written cells"
        # compared a little blurred: the photograph changes stroke widths, the shape and slant stay
        references = [_soft(normalize_digit(written[(row, c)], "bright")) for c in cols]
        for position, path in enumerate(files):
            crop = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            assert crop.shape == (28, 28) and crop.dtype == np.uint8
            assert crop[0].max() < 60 and crop[:, 0].max() < 60, "bright ink on a black border, as MNIST"
            correlations = [np.corrcoef(_soft(crop), ref)[0, 1] for ref in references]
            # most like its own cell, or very like it when two cells hold near-identical digits (upright 1s)
            own = correlations[position]
            assert int(np.argmax(correlations)) == position or own > 0.9, f"{path} looks like another cell of row {row}"
            assert max(correlations) > 0.7


@pytest.fixture(scope="module")
def sheet(mnist_small: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    return filled_sheet(mnist_small)


@pytest.mark.parametrize("quarter_turns", [0, 1, 2], ids=["upright", "sideways", "upside-down"])
def test_photographed_sheet_gives_every_cell_under_its_rows_label(
    sheet, tmp_path: Path, quarter_turns: int
) -> None:
    page, written = sheet
    summary = collect_from_sheet(photograph(page, quarter_turns, seed=quarter_turns), tmp_path)
    assert summary.total == 100 - len(EMPTY_CELLS)
    assert sorted(summary.sheets[0].empty_cells) == EMPTY_CELLS
    assert_cells_match(summary.saved, written)
    # The folders are what train --extra reads.
    for label in "0123456789":
        assert sorted(p.name for p in (tmp_path / label).iterdir()) == sorted(
            p.name for p in summary.saved[label]
        )


def test_collected_folder_loads_with_train_extra(sheet, tmp_path: Path) -> None:
    from train.data import load_extra

    page, written = sheet
    collect_from_sheet(photograph(page), tmp_path)
    digits = load_extra(tmp_path)  # contact sheets beside the folders are ignored
    assert len(digits.y) == len(written)
    assert np.bincount(digits.y, minlength=10).tolist() == [10, 10, 9, 10, 10, 10, 10, 9, 10, 9]


def test_scan_of_the_template_itself_reads_as_all_empty(tmp_path: Path) -> None:
    summary = collect_from_sheet(render_sheet(), tmp_path)
    assert summary.total == 0
    assert len(summary.sheets[0].empty_cells) == 100
    assert summary.contact_sheet is None


def test_second_run_adds_new_files_and_never_overwrites(sheet, tmp_path: Path) -> None:
    page, _ = sheet
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "00041.png").write_bytes(b"an earlier crop")
    first = collect_from_sheet(photograph(page, seed=1), tmp_path)
    before = {p: p.read_bytes() for paths in first.saved.values() for p in paths}
    second = collect_from_sheet(photograph(page, seed=2), tmp_path)
    assert (tmp_path / "3" / "00041.png").read_bytes() == b"an earlier crop"
    assert [p.name for p in first.saved["3"]][:2] == ["00042.png", "00043.png"]
    assert all(path.read_bytes() == data for path, data in before.items())
    assert not set(before) & {p for paths in second.saved.values() for p in paths}
    assert len(list((tmp_path / "0").glob("*.png"))) == 20
    assert first.contact_sheet != second.contact_sheet
    assert not list(tmp_path.rglob("*.tmp")), "no temp files left behind"


def test_contact_sheet_shows_every_saved_digit(sheet, tmp_path: Path) -> None:
    page, _ = sheet
    summary = collect_from_sheet(photograph(page), tmp_path)
    contact = cv2.imread(str(summary.contact_sheet), cv2.IMREAD_GRAYSCALE)
    assert contact is not None
    tile = 28 * store.CONTACT_SCALE + 2
    assert contact.shape[0] == 10 * tile + 2  # a row per label
    assert contact.shape[1] >= 10 * tile  # ten digits in the fullest rows


def test_writer_without_hard_links_still_never_overwrites(tmp_path: Path, monkeypatch) -> None:
    def no_links(src, dst):
        raise PermissionError("no hard links on this file system")

    monkeypatch.setattr(os, "link", no_links)
    digit = np.zeros((28, 28), np.uint8)
    digit[8:20, 12:16] = 255
    first, second = DigitWriter(tmp_path), DigitWriter(tmp_path)  # two runs at once, same counters
    a, b = first.save("1", digit), second.save("1", digit)
    assert a != b
    assert sorted(p.name for p in (tmp_path / "1").iterdir()) == ["00000.png", "00001.png"]
    assert cv2.imread(str(a), cv2.IMREAD_UNCHANGED).shape == (28, 28)


def test_image_without_a_grid_is_a_clear_error(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (600, 800), dtype=np.uint8)
    with pytest.raises(CollectError, match="no grid sheet found"):
        collect_from_sheet(noise, tmp_path)
    assert not any(tmp_path.rglob("*.png")), "nothing written for a failed sheet"


def test_sheet_without_the_orientation_square_is_refused(sheet, tmp_path: Path) -> None:
    page = sheet[0].copy()
    left, top, _, _ = frame_box_mm()
    square = slice(int((top - 11) * PX_PER_MM), int((top - 2) * PX_PER_MM))
    page[square, int((left - 11) * PX_PER_MM) : int((left - 2) * PX_PER_MM)] = 255
    with pytest.raises(CollectError, match="which way up"):
        collect_from_sheet(photograph(page), tmp_path)


def live_frame(digit: np.ndarray) -> np.ndarray:
    """A camera frame: paper with one dark digit in the middle."""
    frame = np.full((240, 320, 3), 200, np.uint8)
    ink = cv2.resize(255 - digit, (80, 80))
    region = frame[80:160, 120:200]
    np.minimum(region, cv2.cvtColor(ink, cv2.COLOR_GRAY2BGR), out=region)
    return frame


def test_live_collection_saves_the_boxed_digit_under_the_key_pressed(mnist_small, tmp_path: Path) -> None:
    three = mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == 3)[0]]
    frames = [live_frame(three), None, np.zeros((0, 0, 3), np.uint8), *[live_frame(three)] * 3]
    frames += [live_frame(three)] * 5  # never reached: q comes first
    # The "3" pressed during a bad frame counts on the next good one; "x" is no label.
    keys = iter([None, "3", None, None, "x", "3", "q"])
    shown, messages = [], []
    summary = collect_live(
        iter(frames), lambda: next(keys), tmp_path, show=shown.append, notify=messages.append
    )
    assert [p.parent.name for p in summary.saved["3"]] == ["3", "3"]
    assert len(shown) == 4  # the bad frames are skipped, q ends the loop
    assert all(m.startswith("saved ") for m in messages)
    saved = cv2.imread(str(summary.saved["3"][0]), cv2.IMREAD_UNCHANGED)
    assert np.corrcoef(saved.ravel(), normalize_digit(three, "bright").ravel())[0, 1] > 0.8
    assert summary.contact_sheet is not None and summary.contact_sheet.is_file()


def test_live_collection_with_an_empty_box_saves_nothing_and_says_why(tmp_path: Path) -> None:
    blank = np.full((240, 320, 3), 200, np.uint8)
    keys = iter(["5", "q"])
    messages: list[str] = []
    summary = collect_live(iter([blank, blank]), lambda: next(keys), tmp_path, notify=messages.append)
    assert summary.total == 0
    assert messages == ["no digit in the box: hold it inside the square, dark ink on light paper"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="device")
    add_collect_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["collect", *argv])


def test_cli_reads_sheet_photos_and_reports_counts(sheet, tmp_path: Path, capsys) -> None:
    photo = tmp_path / "sheet.jpg"
    cv2.imwrite(str(photo), photograph(sheet[0]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    args = parse([str(photo), "--out", str(tmp_path / "mine")])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "97 digits, 3 empty cells" in out
    assert "saved 97 digits" in out
    assert len(list((tmp_path / "mine").rglob("0*.png"))) == 97


def test_cli_bad_image_exits_2_with_one_line_and_keeps_the_good_sheets(sheet, tmp_path: Path, capsys) -> None:
    photo = tmp_path / "good.png"
    cv2.imwrite(str(photo), photograph(sheet[0]))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    code = run_collect(
        parse([str(broken), str(tmp_path / "missing.jpg"), str(photo), "--out", str(tmp_path / "o")])
    )
    err = capsys.readouterr().err
    assert code == 2
    assert re.findall(r"device collect: error: .*", err) == [
        f"device collect: error: {broken}: not a readable image (corrupt or unsupported format)",
        f"device collect: error: {tmp_path / 'missing.jpg'}: no such file",
    ]
    assert len(list((tmp_path / "o").rglob("0*.png"))) == 97


def small_photo(page: np.ndarray, size: tuple[int, int], seed: int = 1, angle: float = 6.0) -> np.ndarray:
    """The whole sheet in a small camera frame: turned, in perspective, lit from one side, blurred, JPEG."""
    rng = np.random.default_rng(seed)
    h, w = page.shape
    out_w, out_h = size
    scale = min(out_w / w, out_h / h) * 0.95
    turn = np.deg2rad(angle)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[out_w / 2, out_h / 2] + rotation @ ([x - w / 2, y - h / 2]) * scale for x, y in src])
    dst += (rng.uniform(-0.05, 0.05, (4, 2)) * [w * scale, h * scale]).astype(np.float32)
    photo = cv2.warpPerspective(page, cv2.getPerspectiveTransform(src, dst), size, borderValue=70)
    light = 0.7 + 0.3 * np.linspace(0, 1, out_w)[None, :]
    photo = photo.astype(np.float32) * light + rng.normal(0, 5, (out_h, out_w))
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255).astype(np.uint8), (0, 0), 1.2)
    return cv2.imdecode(cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_GRAYSCALE)


def test_a_640x480_frame_of_the_whole_sheet_gives_every_cell(sheet, tmp_path: Path) -> None:
    page, written = sheet
    summary = collect_from_sheet(small_photo(page, (640, 480)), tmp_path)
    assert sorted(summary.sheets[0].empty_cells) == EMPTY_CELLS
    assert {label: len(paths) for label, paths in summary.saved.items()} == {
        str(r): sum((r, c) in written for c in range(10)) for r in range(10)}


def test_a_too_small_picture_says_so_and_a_failed_run_leaves_nothing_behind(sheet, tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="too small"):
        collect_from_sheet(small_photo(sheet[0], (320, 240)), tmp_path / "new" / "my_digits")
    assert not (tmp_path / "new").exists(), "the folders a failed run made are gone"
    (tmp_path / "kept" / "3").mkdir(parents=True)
    with pytest.raises(CollectError):
        collect_from_sheet(small_photo(sheet[0], (320, 240)), tmp_path / "kept")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["3"], "what was there before stays"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x.jpg"], "--out DIR is required"),
        (["--out", "o"], "give photos of grid sheets, or --live"),
        (["x.jpg", "--live", "--out", "o"], "give photos of grid sheets or --live for the camera, not both"),
        (["--print-sheet", "sheet.docx"], "can be written as .svg or .png"),
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], message: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_collect(parse(argv)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def svg_rects(node: ET.Element) -> list[tuple[float, float, float, float]]:
    """The rects under an SVG element as (x0, y0, x1, y1), mm."""
    rects = []
    for rect in node.iter(f"{SVG}rect"):
        x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
        rects.append((x, y, x + w, y + h))
    return rects


def test_cli_prints_the_empty_sheet_as_svg_and_png(tmp_path: Path, capsys) -> None:
    for name in ("sheet.svg", "sheet.png"):
        assert run_collect(parse(["--print-sheet", str(tmp_path / name)])) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"wrote {tmp_path / name}: print it at 100 % on A4") and out.count("\n") == 1
    png = cv2.imread(str(tmp_path / "sheet.png"), cv2.IMREAD_GRAYSCALE)
    assert png.shape == (1754, 1240)  # A4 at 150 dpi
    assert find_grid(png).quarter_turns == 0
    assert not list(tmp_path.glob(".*")), "no temp files left behind"


def test_svg_sheet_is_an_a4_page_with_the_frame_grid_and_marker_where_the_reader_expects_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sheet.svg"
    assert run_collect(parse(["--print-sheet", str(path)])) == 0
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("210mm", "297mm", "0 0 210 297")

    left, top, right, bottom = frame_box_mm()
    frame = root.find(f"{SVG}g[@id='frame']")
    assert frame is not None and frame.get("fill") == "black"
    frame_rects = svg_rects(frame)
    assert len(frame_rects) == 4
    xs, ys = [v for r in frame_rects for v in r[::2]], [v for r in frame_rects for v in r[1::2]]
    assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx((left, top, right, bottom))
    assert sorted(min(x1 - x0, y1 - y0) for x0, y0, x1, y1 in frame_rects) == pytest.approx([FRAME_MM] * 4)

    lines = svg_rects(root.find(f"{SVG}g[@id='grid-lines']"))
    vertical = sorted((x0 + x1) / 2 for x0, y0, x1, y1 in lines if y1 - y0 > x1 - x0)
    horizontal = sorted((y0 + y1) / 2 for x0, y0, x1, y1 in lines if x1 - x0 > y1 - y0)
    assert vertical == pytest.approx([left + FRAME_MM + i * CELL_MM for i in range(1, 10)])
    assert horizontal == pytest.approx([top + FRAME_MM + i * CELL_MM for i in range(1, 10)])
    assert all(min(x1 - x0, y1 - y0) == pytest.approx(0.5) for x0, y0, x1, y1 in lines)

    marker = root.find(f"{SVG}rect[@id='marker']")
    assert marker is not None and marker.get("fill") == "black"
    (mx0, my0, mx1, my1) = svg_rects(marker)[0]
    assert (mx1 - mx0, my1 - my0) == pytest.approx((7.0, 7.0))
    assert mx1 < left and my1 < top, "outside the frame's top-left corner"

    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "zmg-digits handwriting sheet" in texts and texts.count("7") == 1
    assert "sans-serif" in root.find(f"{SVG}g[@id='texts']").get("font-family")

    # The SVG's black rects, filled in at 5 px/mm, read back as an upright, empty grid.
    page = np.full((round(297 * PX_PER_MM), round(210 * PX_PER_MM)), 255, np.uint8)
    for x0, y0, x1, y1 in svg_rects(frame) + lines + svg_rects(marker):
        page[round(y0 * PX_PER_MM) : round(y1 * PX_PER_MM), round(x0 * PX_PER_MM) : round(x1 * PX_PER_MM)] = 0
    summary = collect_from_sheet(photograph(page), tmp_path / "out")
    assert summary.total == 0 and len(summary.sheets[0].empty_cells) == 100
    assert summary.sheets[0].quarter_turns == 0


def test_print_sheet_as_pdf_says_to_write_svg_or_png(tmp_path: Path, capsys) -> None:
    assert run_collect(parse(["--print-sheet", str(tmp_path / "sheet.PDF")])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("device collect: error: ")
    assert "write .svg (print it from a browser or any viewer at 100 %, A4) or .png" in err
    assert not list(tmp_path.iterdir()), "nothing written"


def test_bundled_templates_are_what_the_code_draws() -> None:
    templates = Path(collect.__file__).resolve().parents[2] / "templates"
    assert (templates / "grid-sheet-a4.svg").read_bytes() == collect.sheet_svg()
    png = cv2.imread(str(templates / "grid-sheet-a4.png"), cv2.IMREAD_UNCHANGED)
    drawn = render_sheet()
    assert png.shape == drawn.shape and png.dtype == drawn.dtype
    # The frame, grid and marker are exact; OpenCV releases anti-alias putText's strokes a little differently
    # (5.0 and 5.1 differ on 2 % of the page), so the printed text is compared by its ink, not pixel by pixel.
    text = np.zeros(png.shape, bool)
    for label in sheet_shapes().texts:
        (x0, y0), scale, thickness = text_placement(label)
        (w, h), base = cv2.getTextSize(label.text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        pad = max(2, round(0.2 * h))
        text[max(0, y0 - h - pad) : y0 + base + pad, max(0, x0 - pad) : x0 + w + pad] = True
    assert np.array_equal(png[~text], drawn[~text])
    ink_png, ink_drawn = (255.0 - png[text]).sum(), (255.0 - drawn[text]).sum()
    assert abs(ink_png - ink_drawn) <= 0.05 * ink_drawn
    assert not (templates / "grid-sheet-a4.pdf").exists()


def test_package_exports_load_lazily_and_registering_the_command_imports_no_opencv() -> None:
    for name in collect.__all__:
        assert getattr(collect, name) is not None
    code = (
        "import argparse, sys\n"
        "from device.tools.collect import add_collect_parser\n"
        "add_collect_parser(argparse.ArgumentParser().add_subparsers())\n"
        "print(sorted(m for m in ('cv2', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_live_cli_uses_the_given_frames_and_terminal_keys(
    mnist_small, tmp_path: Path, monkeypatch, capsys
) -> None:
    seven = mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == 7)[0]]
    keys = iter(["7", "q"])

    class FakeKeys:
        def __enter__(self):
            return lambda: next(keys)

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(camera, "TerminalKeys", FakeKeys)
    args = parse(["--live", "--out", str(tmp_path)])
    assert run_collect(args, open_frames=lambda source: iter([live_frame(seven)] * 3)) == 0
    assert "saved 1 digits (7: 1)" in capsys.readouterr().out
