"""The shape of the problem, defined once: 28x28 grayscale digits in, ten classes out (eleven with "non-digit")."""

from __future__ import annotations

IMAGE_SIZE = 28  # MNIST's side, the network's input side
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)  # one digit, without the batch axis
NUM_CLASSES = 10
LABELS = tuple(str(d) for d in range(NUM_CLASSES))  # class index -> text
NON_DIGIT_LABEL = "non-digit"  # the optional eleventh class, after the digits: a mark that is not one digit
