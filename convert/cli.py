"""``convert``: a Keras model -> a validated TFLite model (full-integer int8 by default), metadata inside.

Exit codes: 0 written; 1 the converted model lost more accuracy than --max-drop allows; 2 bad
input (missing, corrupt or non-Keras model, wrong shape, bad data or flags) or a failed conversion.
Nothing is written unless every check passes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from convert.options import DEFAULT_CALIBRATION_SIZE, DEFAULT_MAX_DROP_POINTS, ConvertOptions
from device.common.argtypes import positive_int
from device.recognition.modelinfo import sidecar_path

EXIT_ACCURACY = 1
EXIT_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convert",
        description="Convert a trained Keras digit model (.keras) to TFLite for the Raspberry Pi. The result "
                    "is evaluated on the MNIST test set through device/'s own runtime and written only when "
                    "it is as accurate as the Keras model; its metadata (labels, preprocessing, training "
                    "data, figures) is stored inside the .tflite: 'python -m device info OUT.tflite' shows it.",
        epilog="Exit codes: 0 written; 1 accuracy drop over --max-drop; 2 bad input or failed conversion. "
               "Example: convert --int8 runs/paper/model.keras -o device/models/digits_int8.tflite",
    )
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="trained Keras 3 model file (.keras); with --embed-sidecar, an older .tflite")
    parser.add_argument("--embed-sidecar", action="store_true",
                        help="instead of converting: write the metadata of an older model's sidecar MODEL.json "
                             "into MODEL.tflite, so that the .tflite alone is the whole model")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--int8", dest="kind", action="store_const", const="int8",
                      help="full-integer int8 model: int8 weights and activations, integer ops only "
                           "(the default)")
    kind.add_argument("--float", dest="kind", action="store_const", const="float32",
                      help="float32 model instead (for comparison; larger and slower on a Pi)")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.tflite",
                        help="output file (default: digits_int8.tflite or digits_float.tflite beside MODEL)")
    parser.add_argument("--io", choices=("int8", "uint8"), default="int8",
                        help="dtype of the int8 model's input and output tensors (default: int8)")
    parser.add_argument("--calib", type=Path, metavar="PATH",
                        help="calibrate on this digit set instead of MNIST training images: an .npz (x/y or "
                             "Keras layout) or a folder 0/ .. 9/ of images, normalised like camera crops")
    parser.add_argument("--calib-size", type=positive_int, default=DEFAULT_CALIBRATION_SIZE, metavar="N",
                        help="number of calibration images, drawn at random (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration sample (default: 0)")
    parser.add_argument("--no-logit-floor", dest="logit_floor", action="store_false",
                        help="int8: keep the full range of the logits. By default logits far below the "
                             "weakest winning logit of the calibration images are clamped, which gives the "
                             "int8 logits finer steps and leaves the predicted digit unchanged (see "
                             "docs/convert.md)")
    parser.add_argument("--data", type=Path, metavar="MNIST",
                        help="MNIST as a Keras-layout .npz or a folder of IDX files, for calibration and the "
                             "accuracy check (default: the Keras MNIST download cache)")
    parser.add_argument("--max-drop", type=float, default=DEFAULT_MAX_DROP_POINTS, metavar="POINTS",
                        help="largest accuracy loss against the Keras model allowed, in percentage points "
                             "(default: %(default)s); more fails with exit code 1 and writes nothing")
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1, metavar="N",
                        help="interpreter threads for the accuracy check (default: all cores)")
    parser.add_argument("--recipe", metavar="NAME",
                        help="the training recipe to record in the model's metadata when no config.json from "
                             "train sits beside MODEL.keras (the bundled model: reader)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def default_output(model_path: Path, kind: str) -> Path:
    name = "digits_int8.tflite" if kind == "int8" else "digits_float.tflite"
    return model_path.parent / name


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.embed_sidecar:
        return embed_sidecar_command(args.model)
    kind = args.kind or "int8"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    # Imported here so that --help and flag errors answer at once, without loading TensorFlow.
    from convert.pipeline import AccuracyDropError, ConvertError, convert_keras_file

    options = ConvertOptions(kind=kind, io_type=args.io, calib_path=args.calib, calib_size=args.calib_size,
                             seed=args.seed, data_path=args.data, max_drop_points=args.max_drop,
                             num_threads=args.threads, progress=not args.quiet,
                             logit_floor=args.logit_floor, recipe=args.recipe)
    out_path = args.output or default_output(args.model, kind)
    try:
        result = convert_keras_file(args.model, out_path, options)
    except AccuracyDropError as exc:
        print(f"convert: error: {exc} (--max-drop)", file=sys.stderr)
        return EXIT_ACCURACY
    except ConvertError as exc:
        print(f"convert: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    info = result.info
    print(f"wrote {result.tflite_path} ({result.size_bytes / 1024:.0f} KiB, metadata inside: "
          f"{len(info.labels)} classes, preprocessing {info.preprocess_version}, recipe "
          f"{info.training.get('recipe', 'unknown')})")
    stale = sidecar_path(result.tflite_path)
    if stale.exists():
        print(f"note: {stale} is from an older model and no longer read; delete it")
    return 0


def embed_sidecar_command(model_path: Path) -> int:
    """``convert --embed-sidecar MODEL.tflite``: one file from an older model and its sidecar."""
    from convert.embed import EmbedError, embed_sidecar

    try:
        info = embed_sidecar(model_path)
    except EmbedError as exc:
        print(f"convert: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(f"wrote the metadata of {sidecar_path(model_path).name} into {model_path} ({len(info.labels)} "
          f"classes, preprocessing {info.preprocess_version}); the sidecar is no longer read: delete it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
