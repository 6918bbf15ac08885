"""Synthetic photographs of handwritten digit strings on paper, with ground truth, to test the device's reading.

Each scene is one photographed sheet: MNIST *test* digits (never seen in training) rendered as dark
ink strokes in strings of 1 to 8 digits, on textured paper that may be ruled, squared or have a
margin, under a lighting gradient, a soft shadow, seen with a slight perspective, out-of-focus
blur, sensor noise and JPEG artefacts; now and then the table shows at the paper's edge and there
are specks of dirt. Every random choice comes from ``numpy.random.default_rng([seed, index])``, so
scene ``i`` of a seed is the same whatever ``--count`` is.

    python -m train.scenes --count 500 --seed 2024 --out runs/scenes-eval   # or scripts/make_scenes.py

writes ``DIR/scene_00000.jpg ...``, ``DIR/labels.csv`` (file, text) and ``DIR/scenes.json`` (the
settings, then per scene the text, its lines and each digit's label, box (x, y, w, h) in the frame,
line and MNIST index, and the scene's drawn parameters) and ``DIR/digit_boxes.csv`` (file, digit, x, y, w, h:
the layout of the real strings sets, ``device.data.stringsets``). In ``text`` the lines of a scene are
separated by one space, top to bottom, as ``device read`` prints them. ``--preset strings`` writes numbers as
people write them instead: touching digits, separators (``text`` keeps them: ``18.014``; the
``digits_left_to_right`` column of labels.csv has the digits alone), patterned paper, scans.

Modules: ``settings`` (the ranges), ``render`` (paper, rulings, light, table, digit strokes, layout),
``page`` (the sheet and its photograph), ``generate`` (scenes, clips and their files), ``cli``.
Numpy and OpenCV only: importing this package never loads TensorFlow.
"""

from __future__ import annotations

from train.scenes.cli import main
from train.scenes.generate import (
    FALLBACK_MNIST,
    default_mnist,
    load_mnist_test,
    make_clip,
    make_scene,
    mnist_for_scenes,
    write_clip,
    write_scene_set,
)
from train.scenes.page import SceneError
from train.scenes.settings import PRESETS, SceneSettings

__all__ = [
    "FALLBACK_MNIST",
    "PRESETS",
    "SceneError",
    "SceneSettings",
    "default_mnist",
    "load_mnist_test",
    "main",
    "make_clip",
    "make_scene",
    "mnist_for_scenes",
    "write_clip",
    "write_scene_set",
]
