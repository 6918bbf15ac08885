"""Strings folders (labels.csv + digit_boxes.csv, the ORAND layout): loading, crops, split by image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from device.data.digitsets import DataError
from device.data.stringsets import crop_box, digit_crops, load_string_set, split_by_image

ORAND = Path(__file__).resolve().parents[2] / "shared" / "data" / "orand_car_a_dev"


def make_strings_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    boxes = ["file,digit,x,y,w,h"]
    for index, text in enumerate(["17", "305"]):
        page = np.full((40, 30 * len(text) + 10, 3), 230, np.uint8)
        for position, digit in enumerate(text):
            x = 5 + 30 * position
            cv2.putText(page, digit, (x + 3, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 3)
            # Listed right to left on purpose: the loader puts boxes in reading order.
            boxes.insert(1, f"images/s{index}.png,{digit},{x},4,28,32")
        cv2.imwrite(str(root / "images" / f"s{index}.png"), page)
    (root / "labels.csv").write_text("file,digits_left_to_right,n_digits\nimages/s0.png,17,2\nimages/s1.png,3.05,3\n")
    (root / "digit_boxes.csv").write_text("\n".join(boxes) + "\n")
    return root


def test_a_strings_folder_loads_with_boxes_in_reading_order(tmp_path: Path) -> None:
    strings = load_string_set(make_strings_folder(tmp_path / "set"))
    assert len(strings) == 2 and strings.has_boxes
    assert [s.digits for s in strings.samples] == ["17", "305"]  # separators are not digits
    assert [box[0] for box in strings.samples[1].boxes] == [5, 35, 65]
    assert strings.samples[0].file.is_file()


def test_digit_crops_are_mnist_style_and_remember_their_image(tmp_path: Path) -> None:
    crops = digit_crops(load_string_set(make_strings_folder(tmp_path / "set")))
    assert crops.digits.x.shape == (5, 28, 28) and crops.digits.x.dtype == np.uint8
    assert crops.digits.y.tolist() == [1, 7, 3, 0, 5]
    assert crops.groups.tolist() == [0, 0, 1, 1, 1]
    assert crops.digits.x.max() > 200 and crops.digits.x[:, 0, :].max() < 50  # white ink, dark border


def test_a_zero_boxed_in_darker_print_gives_a_ring_not_a_blob(tmp_path: Path) -> None:
    # The box's edge runs through the cheque's darker printed background, the paper inside the 0 is light:
    # guessing the ink's polarity from the box's border took that paper for ink (a filled blob, read as a
    # non-digit, 5 or 8). A string set is handwriting on paper, dark ink, as the camera reader reads every frame.
    root = tmp_path / "zero"
    root.mkdir()
    page = np.full((60, 60), 220, np.uint8)
    page[10:51, 16:45] = 150
    page[13:48, 19:42] = 220
    cv2.ellipse(page, (30, 30), (12, 18), 0, 0, 360, 50, 2)
    cv2.imwrite(str(root / "z.png"), page)
    (root / "labels.csv").write_text("file,digits\nz.png,0\n")
    (root / "digit_boxes.csv").write_text("file,digit,x,y,w,h\nz.png,0,16,10,29,41\n")
    zero = digit_crops(load_string_set(root)).digits.x[0]
    assert zero[14, 14] < 50 and zero.max() > 200  # the middle is paper (dark in MNIST style), the ring ink


def test_boxes_off_the_image_are_clipped() -> None:
    gray = np.zeros((10, 10), np.uint8)
    assert crop_box(gray, (-2, -2, 5, 5)).shape == (3, 3)
    assert crop_box(gray, (8, 8, 5, 5)).shape == (2, 2)
    assert crop_box(gray, (20, 20, 5, 5)).size == 0


@pytest.mark.parametrize("content", [None, "name,value\na,1\n"])
def test_a_folder_without_usable_labels_is_a_one_line_error(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(DataError) as info:
        load_string_set(tmp_path)
    assert "\n" not in str(info.value)


def test_split_by_image_is_seeded_and_disjoint() -> None:
    first, held = split_by_image(100, 0.3, seed=4)
    assert len(held) == 30 and not set(first) & set(held)
    assert np.array_equal(held, split_by_image(100, 0.3, seed=4)[1])


@pytest.mark.skipif(not ORAND.is_dir(), reason="research set ../shared/data/orand_car_a_dev is not here")
def test_orand_dev_has_a_box_for_every_digit() -> None:
    strings = load_string_set(ORAND)
    assert len(strings) == 618
    assert sum(len(s.boxes) == len(s.digits) for s in strings.samples) >= 600
