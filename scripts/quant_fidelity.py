"""How faithful is the int8 model to its float model, for several calibration samples? (Not on the test set.)

    python scripts/quant_fidelity.py train/models/robust.keras --data ../shared/data/mnist.npz \\
        --extra ../shared/data/usps/usps.npz

For each calibration sample (size and seed, as `convert --int8 --calib-size N --seed S` draws it) the model is
converted to int8 and run through the device's runtime on digits that the MNIST test set does not contain:
another handwriting set (``--extra``, normalised like a camera crop) and augmented MNIST training digits (the
robust recipe's camera-like augmentation). The script counts the digits whose predicted class changes from the
float Keras model's. Choosing a calibration this way keeps the test set for reporting.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from convert.calibration import mnist_calibration
from convert.converter import convert_model, load_keras_model
from convert.embed import with_model_info
from convert.logit_floor import with_logit_floor
from convert.validate import keras_predictions, tflite_predictions
from device.common.shapes import LABELS, NON_DIGIT_LABEL
from device.recognition.modelinfo import ModelInfo
from device.recognition.preprocess import PREPROCESS_VERSION, prepare_mnist
from device.recognition.runtime import INPUT_SHAPE, TFLiteModel
from train.augment import augment_batch
from train.data import load_extra, load_mnist

AUGMENTED_SEED = 99  # the augmented training digits are the same for every calibration compared


def int8_runtime(model, calibration: np.ndarray, folder: Path, logit_floor: bool = True) -> TFLiteModel:
    """The int8 model as `convert --int8` makes it (with or without the logit floor), on the device runtime."""
    if logit_floor:
        model, _ = with_logit_floor(model, calibration)
    path = folder / f"calib-{len(calibration)}.tflite"
    info = ModelInfo(preprocess_version=PREPROCESS_VERSION, input_shape=INPUT_SHAPE,
                     labels=LABELS if int(model.outputs[0].shape[-1]) == len(LABELS) else (*LABELS, NON_DIGIT_LABEL),
                     kind="int8")
    path.write_bytes(with_model_info(convert_model(model, "int8", "int8", calibration), info))
    return TFLiteModel(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the Keras model (.keras)")
    parser.add_argument("--data", type=Path, default=None, help="MNIST .npz (default: Keras download)")
    parser.add_argument("--extra", type=Path, default=None, help="another handwriting set (.npz or folder 0/..9/)")
    parser.add_argument("--augmented", type=int, default=10_000, help="augmented MNIST training digits (default 10000)")
    parser.add_argument("--samples", nargs="+", default=["500:0", "500:1", "500:2", "1000:0", "2000:0"],
                        help="calibration samples as SIZE:SEED (default: 500:0 500:1 500:2 1000:0 2000:0)")
    parser.add_argument("--no-logit-floor", dest="logit_floor", action="store_false",
                        help="convert without the logit floor, as `convert --no-logit-floor` does")
    args = parser.parse_args()

    model = load_keras_model(args.model)
    mnist = load_mnist(args.data)
    rng = np.random.default_rng(AUGMENTED_SEED)
    chosen = rng.choice(len(mnist.train), args.augmented, replace=False)
    sets = {"augmented MNIST train": prepare_mnist(augment_batch(mnist.train.x[chosen], rng, 0.6))}
    if args.extra is not None:
        sets[args.extra.name] = prepare_mnist(load_extra(args.extra).x)
    reference = {name: keras_predictions(model, images) for name, images in sets.items()}

    columns = [f"{name} ({len(images)})" for name, images in sets.items()]
    print("calibration (size:seed)  " + "  ".join(columns) + "  all")
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        for sample in args.samples:
            size, _, seed = sample.partition(":")
            calibration = mnist_calibration(mnist.train.x, int(size), int(seed or 0))
            runtime = int8_runtime(model, calibration, Path(tmp), args.logit_floor)
            changed = [int(np.sum(tflite_predictions(runtime, images) != reference[name]))
                       for name, images in sets.items()]
            cells = [f"{n:>{len(column)}d}" for n, column in zip(changed, columns, strict=True)]
            print(f"{sample:>23s}  " + "  ".join(cells) + f"  {sum(changed):>3d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
