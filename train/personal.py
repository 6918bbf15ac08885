"""Personal fine-tuning data: a few hundred of one user's digits against MNIST replay (no TensorFlow here).

A user has one to three sheets (100-300 digits). Mixed into MNIST's 60,000 as ordinary training digits they
are 0.2 % of what the network sees and it learns nothing from them (issue 16). So:

- ``mixed_batches``: every batch holds a fixed share of the user's digits (``own_share``), the rest MNIST
  replay, which keeps the old skill; the own digits are lightly augmented so that a few hundred can be seen
  many times without being memorised.
- ``stable_split``: the part of the user's digits held out for early stopping and for the report, chosen per
  file (or per image of a strings set) by a seeded hash, so that adding sheets never moves an earlier digit
  to the other side.
- ``sanity_check``: before training, how often the current model agrees with the folder's labels, per class,
  and which images are blank or do not look like digits: a wrong folder is caught before minutes of training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from device.common.shapes import IMAGE_SIZE, NUM_CLASSES
from train.augment import augment_batch, elastic_distort
from train.negatives import NON_DIGIT, non_digit_batch


@dataclass(frozen=True)
class PersonalRecipe:
    """Every setting of a personal fine-tune (``train --config personal``); chosen in docs/log/2026-12.md."""

    name: str = "personal"
    own_share: float = 0.5  # of every batch: the user's digits; the rest is MNIST replay
    batch_size: int = 64
    learning_rate: float = 3e-4  # Adam's first rate, cosine-decayed to lr_floor times it over max_steps
    lr_floor: float = 1.0  # 1.0: constant; the shipped model ended its training at 1e-5, so a high constant
    # rate walks away from MNIST's optimum, and a decay brings it back down
    max_steps: int = 400
    check_every: int = 25  # steps between looks at the held-out own digits
    patience: int = 6  # looks without a better held-out loss before stopping
    min_steps: int = 100  # the weights kept come from this step or later: a few held-out digits (one image's
    # worth, at times) judge too coarsely to keep the starting model, which a user asked to change
    holdout: float = 0.2  # share of the user's files held out (early stopping, the report)
    freeze: tuple[str, ...] = ()  # layer names kept as they were
    own_augment: float = 0.5  # share of own digits re-drawn (camera-like or elastic) in a batch
    replay_clean: float = 0.6  # MNIST replay as the robust recipe draws it (share kept in MNIST's rendering)
    replay_non_digit: float = 0.1  # of the replay, for a model with the non-digit class: that class's examples
    # (train/negatives.py), so that the reader keeps telling digits from dashes and touching pairs
    distill: float = 0.0  # replay targets: this share the starting model's probabilities, the rest the label
    blend: float = 0.7  # the kept weights: this share the fine-tuned ones, the rest the starting model's
    # (weight-space ensembling, Wortsman et al. 2022: keeps most of the new skill and more of the old)

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def own_count(recipe: PersonalRecipe) -> int:
    """How many of the user's digits are in every batch (at least one)."""
    return max(1, min(recipe.batch_size, round(recipe.own_share * recipe.batch_size)))


def stable_split(keys: Sequence[str], holdout: float, seed: int = 0) -> np.ndarray:
    """Boolean mask, True = held out. Each key's side depends on (seed, key) only, so adding keys (files,
    sheets) never moves an earlier one; keys that repeat (digits of one image) stay together."""
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    scores = np.array([_unit_hash(f"{seed}:{key}") for key in keys], np.float64)
    return scores < holdout


def stable_folds(keys: Sequence[str], folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of each key for k-fold cross-validation, by the same kind of seeded hash as
    ``stable_split``: a file keeps its fold when files are added."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    return np.array([min(folds - 1, int(_unit_hash(f"{seed}:fold:{key}") * folds)) for key in keys], np.int64)


def _unit_hash(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def augment_own(digits: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """The user's MNIST-style digits with ``share`` of them re-drawn: half as a camera would see them again
    (re-rendered, re-cropped, re-normalised by the device's code), half with their shape distorted."""
    out = np.array(digits, np.uint8, copy=True)
    chosen = np.flatnonzero(rng.random(len(out)) < share)
    camera = chosen[rng.random(len(chosen)) < 0.5]
    if len(camera):
        out[camera] = augment_batch(out[camera], rng, clean_fraction=0.0)
    for i in np.setdiff1d(chosen, camera):
        warped = elastic_distort(out[i].astype(np.float32), rng, alpha=20.0, sigma=4.0)
        out[i] = np.clip(np.rint(_small_affine(warped, rng)), 0, 255).astype(np.uint8)
    return out


def _small_affine(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(-8.0, 8.0)
    scale = rng.uniform(0.9, 1.1)
    matrix = cv2.getRotationMatrix2D((IMAGE_SIZE / 2, IMAGE_SIZE / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-1.0, 1.0, 2)
    return cv2.warpAffine(image, matrix, (IMAGE_SIZE, IMAGE_SIZE), flags=cv2.INTER_LINEAR)


def mixed_batches(
    own_x: np.ndarray, own_y: np.ndarray, mnist_x: np.ndarray, mnist_y: np.ndarray,
    steps: int, recipe: PersonalRecipe, rng: np.random.Generator, non_digits: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` batches in order, as one (steps * batch, 28, 28) uint8 array, its labels and a mask of the
    user's digits among them.

    Each batch holds exactly ``own_count(recipe)`` of the user's digits (cycled through in a fresh shuffle,
    so each is seen equally often) and MNIST replay for the rest, at random places in the batch. With
    ``non_digits`` (a model with the non-digit class), ``recipe.replay_non_digit`` of the replay is that
    class's examples, labelled NON_DIGIT.
    """
    batch, mine = recipe.batch_size, own_count(recipe)
    need = steps * mine
    order = np.concatenate([rng.permutation(len(own_y)) for _ in range(-(-need // len(own_y)))])[:need]
    replay = rng.integers(0, len(mnist_y), steps * (batch - mine))
    own_imgs = augment_own(own_x[order], rng, recipe.own_augment)
    mnist_imgs = augment_batch(mnist_x[replay], rng, clean_fraction=recipe.replay_clean)
    replay_y = mnist_y[replay].astype(np.int64)
    if non_digits and recipe.replay_non_digit > 0:
        marks = np.flatnonzero(rng.random(len(replay)) < recipe.replay_non_digit)
        mnist_imgs[marks] = non_digit_batch(mnist_x, len(marks), rng)
        replay_y[marks] = NON_DIGIT
    x = np.empty((steps * batch, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    y = np.empty(steps * batch, np.int64)
    own = np.zeros(steps * batch, bool)
    for step in range(steps):
        slots = rng.permutation(batch)
        own_slots, mnist_slots = slots[:mine] + step * batch, slots[mine:] + step * batch
        mine_part = slice(step * mine, (step + 1) * mine)
        x[own_slots], y[own_slots], own[own_slots] = own_imgs[mine_part], own_y[order[mine_part]], True
        part = slice(step * (batch - mine), (step + 1) * (batch - mine))
        x[mnist_slots], y[mnist_slots] = mnist_imgs[part], replay_y[part]
    return x, y, own


# --------------------------------------------------------------------------------------------
# Sanity check
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SanityReport:
    """What the current model thinks of the folder before training; ``problems`` are one line each."""

    agreement: np.ndarray  # (10,) share of each class the model reads as its label (NaN: no digits)
    counts: np.ndarray  # (10,) digits per class
    blank: list[str] = field(default_factory=list)  # keys of images without ink
    unlike: list[str] = field(default_factory=list)  # keys of images that are not MNIST-style digits
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = ["digit  count  model agrees"]
        for d in range(NUM_CLASSES):
            share = "      -" if self.counts[d] == 0 else f"{100 * self.agreement[d]:6.1f} %"
            rows.append(f"{d:>5}  {int(self.counts[d]):>5}  {share}")
        return "\n".join(rows)


MIN_INK_PIXELS = 12  # fewer bright pixels than this in a 28x28 digit: nothing written
FAR_BELOW = 0.35  # a class whose agreement is this far under the median of the others is reported
LOW_AGREEMENT = 0.5  # overall agreement under this: probably not digits, or wrong labels


def looks_blank(image: np.ndarray) -> bool:
    return int((np.asarray(image) > 96).sum()) < MIN_INK_PIXELS


MAX_PIECES = 5  # a handwritten digit is one to three strokes; normalised noise or a photo is many specks
MAX_HOLES = 3  # an 8 has two; a blob of noise is full of them (27 of MNIST's 10,000 test digits have more)


def _holes(ink: np.ndarray) -> int:
    """Pieces of background enclosed by ink (4-connected, not touching the border)."""
    count, labels = cv2.connectedComponents((~ink).astype(np.uint8), connectivity=4)
    outside = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return int(count - 1 - np.count_nonzero(outside))


def looks_unlike_a_digit(image: np.ndarray) -> bool:
    """Not what the device makes of a digit: many separate pieces of ink, many enclosed holes, ink on the
    border, or ink over most of the square (noise, a whole photo, a scrap of texture)."""
    x = np.asarray(image) > 96
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]]).mean()
    _, _, stats, _ = cv2.connectedComponentsWithStats(x.astype(np.uint8), connectivity=8)
    pieces = int((stats[1:, cv2.CC_STAT_AREA] >= 2).sum())
    return bool(pieces > MAX_PIECES or _holes(x) > MAX_HOLES or border > 0.15 or x.mean() > 0.5)


def sanity_check(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, keys: Sequence[str]) -> SanityReport:
    """Per class, the share of digits the current model reads as labelled; blank and non-digit images.

    ``predicted`` are the current model's digits for ``images`` (MNIST-style, as the device prepares them).
    """
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    agree = np.bincount(labels[predicted == labels], minlength=NUM_CLASSES)
    agreement = np.divide(agree, counts, out=np.full(NUM_CLASSES, np.nan), where=counts > 0)
    blank = [k for k, im in zip(keys, images, strict=True) if looks_blank(im)]
    unlike = [k for k, im in zip(keys, images, strict=True) if not looks_blank(im) and looks_unlike_a_digit(im)]
    problems: list[str] = []
    if blank:
        problems.append(f"{len(blank)} blank image(s), e.g. {', '.join(blank[:3])}")
    if unlike:
        problems.append(f"{len(unlike)} image(s) that do not look like digits, e.g. {', '.join(unlike[:3])}")
    overall = float(agree.sum() / max(1, counts.sum()))
    if overall < LOW_AGREEMENT:
        problems.append(f"the current model agrees with only {100 * overall:.0f} % of the labels: "
                        "are these digits, in folders named by their digit?")
    present = [d for d in range(NUM_CLASSES) if counts[d]]
    for d in present:
        others = [agreement[o] for o in present if o != d]
        if others and agreement[d] < float(np.median(others)) - FAR_BELOW:
            problems.append(f"digit {d}: the current model agrees with {100 * agreement[d]:.0f} % of its "
                            f"{counts[d]} images, far below the other digits (median {100 * np.median(others):.0f} %): "
                            f"wrong folder?")
    missing = [str(d) for d in range(NUM_CLASSES) if counts[d] == 0]
    if missing:
        problems.append(f"no images of digit(s) {', '.join(missing)}")
    return SanityReport(agreement, counts, blank, unlike, problems)
