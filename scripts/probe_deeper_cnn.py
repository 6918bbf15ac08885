#!/usr/bin/env python
"""Is the paper's network what limits real handwriting? Train another architecture on the same data and compare.

A CNN of the usual kind for digits (three blocks of two 3x3 convolutions with batch normalisation, global
average pooling, a hidden layer, the same 11 classes) learns from exactly what the `reader` recipe feeds the
paper's network (``train.trainer.EpochData``: MNIST with camera-like re-renderings, writing styles, patterns,
JPEG and non-digit examples). After each epoch it prints MNIST test and the boxed digits of a strings set
(``device eval --boxes``'s crops), both read by the Keras network alone (no second look), and the same for a
reference model, so that the two architectures are compared on one measure (docs/log/2026-12.md, "Everyone's
handwriting", 2026-12-03: 14 epochs, 50 min on a 2-core CPU).

    python scripts/probe_deeper_cnn.py --data ../shared/data/mnist.npz \\
        --strings ../shared/data/orand_car_a_dev --epochs 14 --out runs/deeper-cnn/model.keras
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_cnn(width: int, classes: int):
    """Conv-BN-ReLU x2 per block at width, 2x and 4x channels, pooling between blocks, then GAP and a classifier."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for block, channels in enumerate((width, 2 * width, 4 * width)):
        if block:
            x = layers.MaxPooling2D()(x)
        for _ in range(2):
            x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x), name="deeper_cnn")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="MNIST .npz (Keras layout)")
    parser.add_argument("--strings", required=True, help="a strings folder with digit_boxes.csv")
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--width", type=int, default=32, help="channels of the first block")
    parser.add_argument("--reference", default=str(REPO / "train" / "models" / "reader.keras"))
    parser.add_argument("--limit", type=int, default=None, help="train on this many examples an epoch (a smoke test)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", required=True, help="where to save the network after each epoch (.keras)")
    args = parser.parse_args()

    import keras

    from device.data.stringsets import digit_crops, load_string_set
    from device.recognition.decision import decided_classes
    from device.recognition.preprocess import prepare_mnist
    from train.data import load_mnist
    from train.recipes import get_recipe
    from train.trainer import EpochData, epoch_size

    recipe = get_recipe("reader")
    mnist = load_mnist(args.data)
    crops = digit_crops(load_string_set(args.strings)).digits
    sets = {"MNIST test": (prepare_mnist(mnist.test.x), mnist.test.y),
            "boxed digits": (prepare_mnist(crops.x), crops.y)}

    def accuracies(model) -> str:
        return ", ".join(
            f"{name} {100 * np.mean(decided_classes(model.predict(x, batch_size=1000, verbose=0)) == y):.2f} %"
            for name, (x, y) in sets.items()
        )

    reference = keras.saving.load_model(args.reference, compile=False)
    print(f"reference {Path(args.reference).name} ({reference.count_params():,} weights): {accuracies(reference)}")
    keras.utils.set_random_seed(args.seed)
    model = build_cnn(args.width, recipe.model.classes)
    per_epoch = args.limit or epoch_size(len(mnist.train), recipe)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, math.ceil(per_epoch / 128) * args.epochs, alpha=0.01)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"deeper CNN: {model.count_params():,} weights")
    data = EpochData(mnist.train, recipe, seed=args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    try:
        for epoch in range(args.epochs):
            start = time.time()
            if epoch + 1 < args.epochs:
                data.prefetch(epoch + 1)
            x, y = data.get(epoch)
            model.fit(x[: args.limit], y[: args.limit], batch_size=128, epochs=1, verbose=2)
            print(f"epoch {epoch + 1}/{args.epochs} ({time.time() - start:.0f} s): {accuracies(model)}", flush=True)
            model.save(args.out)
    finally:
        data.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
