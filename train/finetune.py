"""The personal fine-tuning loop: a trained model, a few hundred of a user's digits, MNIST replay.

``finetune`` trains in short rounds of ``check_every`` steps on batches from ``train.personal.mixed_batches``
(a fixed share of the user's digits in every batch) and looks at the held-out part of the user's digits after
each round, through the weights it would keep (blended with the starting model's, ``recipe.blend``): from
``recipe.min_steps`` on, it keeps those with the lowest held-out loss and stops when ``patience`` rounds bring
nothing better. The optimizer is fresh; its rate is constant unless ``recipe.lr_floor`` asks for a decay, since
early stopping chooses where a run this short ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from device.common.shapes import NUM_CLASSES
from device.data.digitsets import DigitSet
from device.recognition.decision import decided_classes
from device.recognition.ensemble import read_probabilities
from device.recognition.preprocess import prepare_mnist
from train.personal import PersonalRecipe, mixed_batches


@dataclass
class FinetuneResult:
    steps: int  # steps trained
    best_step: int  # the step whose weights were kept (0: the starting model)
    seconds: float
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (step, held-out loss, accuracy)


def read_digits(model, images: np.ndarray) -> np.ndarray:
    """(N,) classes of MNIST-style uint8 digits as the device reads them: the device's preprocessing, unsure
    ones looked at again at two more stroke widths (``device.recognition.ensemble``), then the digit-or-not
    decision (``device.recognition.decision``)."""
    if len(images) == 0:
        return np.zeros(0, np.int64)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(batch, batch_size=512, verbose=0))

    return decided_classes(read_probabilities(predict, images))


def _loss_and_accuracy(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.log(picked).mean()), float((decided_classes(probs) == labels).mean())


def compile_for_finetune(model, recipe: PersonalRecipe, total_steps: int) -> None:
    """Freeze ``recipe.freeze`` layers and compile with a fresh Adam at the recipe's rate (cosine-decayed
    over ``total_steps`` when ``lr_floor`` < 1); targets are probability rows (``targets``), so replay
    digits can carry the starting model's own answer."""
    import keras

    for layer in model.layers:
        layer.trainable = layer.name not in recipe.freeze
    rate = recipe.learning_rate
    if recipe.lr_floor < 1.0:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, total_steps), alpha=recipe.lr_floor)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="categorical_crossentropy")


def targets(labels: np.ndarray, own: np.ndarray, teacher_probs: np.ndarray | None, distill: float,
            classes: int = NUM_CLASSES) -> np.ndarray:
    """One-hot rows over ``classes``; for replay digits (not ``own``) mixed with the starting model's
    probabilities by ``distill``: the old answers, not only the old labels, are kept (learning without forgetting)."""
    rows = np.eye(classes, dtype=np.float32)[labels]
    if teacher_probs is not None and distill > 0:
        replay = ~own
        rows[replay] = (1 - distill) * rows[replay] + distill * teacher_probs[replay]
    return rows


def blended(weights: list[np.ndarray], start: list[np.ndarray], share: float) -> list[np.ndarray]:
    """``share`` of the fine-tuned weights, the rest the starting model's (weight-space ensembling: the new
    hand is learnt with most of the old skill kept); ``share`` 1 gives the fine-tuned weights."""
    if share >= 1.0:
        return weights
    return [share * new + (1.0 - share) * old for new, old in zip(weights, start, strict=True)]


def finetune(
    model, own_train: DigitSet, own_held: DigitSet | None, mnist_train: DigitSet, recipe: PersonalRecipe,
    seed: int = 0, on_round: Callable[[int, float | None, float | None], None] | None = None,
    max_steps: int | None = None,
) -> FinetuneResult:
    """Fine-tune ``model`` in place (see the module docstring); ``on_round(step, held loss, held accuracy)``
    reports progress after each round. Without held-out digits it trains ``max_steps`` and keeps the last."""
    teacher = None
    if recipe.distill > 0:
        import keras

        teacher = keras.models.clone_model(model)
        teacher.set_weights(model.get_weights())
    total = max_steps or recipe.max_steps
    classes = int(model.output_shape[-1])  # 11: the reader's non-digit class, kept alive by its replay
    start_weights = model.get_weights()
    compile_for_finetune(model, recipe, total)
    rng = np.random.default_rng([seed, 16])
    held = own_held if own_held is not None and len(own_held) else None
    x_held = prepare_mnist(held.x) if held is not None else None
    started = time.monotonic()
    result = FinetuneResult(steps=0, best_step=0, seconds=0.0)
    best_loss, best_weights, waited = np.inf, None, 0
    if held is not None:
        result.history.append((0, *_loss_and_accuracy(np.asarray(model.predict(x_held, verbose=0)), held.y)))
    step = 0
    while step < total:
        steps = min(recipe.check_every, total - step)
        x, y, own = mixed_batches(own_train.x, own_train.y, mnist_train.x, mnist_train.y, steps, recipe, rng,
                                  non_digits=classes > NUM_CLASSES)
        x_in = prepare_mnist(x)
        taught = np.asarray(teacher.predict(x_in, batch_size=512, verbose=0)) if teacher is not None else None
        model.fit(x_in, targets(y, own, taught, recipe.distill, classes), batch_size=recipe.batch_size, epochs=1,
                  shuffle=False, verbose=0)
        step += steps
        loss = acc = None
        if held is not None:  # judge the weights that would be kept: blended with the starting ones
            current = model.get_weights()
            candidate = blended(current, start_weights, recipe.blend)
            model.set_weights(candidate)
            loss, acc = _loss_and_accuracy(np.asarray(model.predict(x_held, verbose=0)), held.y)
            model.set_weights(current)
            result.history.append((step, loss, acc))
            if step < min(recipe.min_steps, total):
                pass  # too early to keep or to stop
            elif loss < best_loss - 1e-4:
                best_loss, best_weights, waited, result.best_step = loss, candidate, 0, step
            else:
                waited += 1
        if on_round:
            on_round(step, loss, acc)
        if held is not None and waited >= recipe.patience:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    else:
        result.best_step = step
        model.set_weights(blended(model.get_weights(), start_weights, recipe.blend))
    result.steps, result.seconds = step, time.monotonic() - started
    return result
