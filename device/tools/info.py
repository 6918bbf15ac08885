"""``device info [MODEL]``: what a model is, from the metadata inside it (device/recognition/modelinfo.py).

Classes, preprocessing, quantization, size, training recipe and data with their licences, and the figures
``convert`` measured. The model is loaded on the runtime as ``read`` would load it, so a model that would
be refused there is refused here with the same one-line error.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from device.cli_options import CommandError, subcommand


def add_info_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand(
        subparsers, "info", run_info, argparse.ArgumentParser(add_help=False),
        "what a model is: classes, preprocessing, quantization, data, figures",
        "Print what a TFLite digit model is, from the metadata convert stored inside it: its classes, the "
        "preprocessing and input normalisation it expects, its quantization and size, the training recipe "
        "and data (with their licences) and the accuracy convert measured. The model is loaded as device "
        "read loads it, so a model it would refuse is refused here too.",
    )
    parser.add_argument("model", nargs="?", type=Path, default=None, metavar="MODEL",
                        help="TFLite model (default: the bundled int8 model)")
    parser.add_argument("--json", action="store_true", help="print the metadata itself, as JSON")
    return parser


def run_info(args: argparse.Namespace) -> int:
    from device.recognition.runtime import ModelError, TFLiteModel

    try:
        model = TFLiteModel(args.model)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps({"model": str(model.path), "metadata_in": model.metadata_origin,
                          "size_bytes": model.path.stat().st_size, "metadata_bytes": metadata_bytes(model),
                          **asdict(model.metadata)}, indent=1))
    else:
        print(describe(model))
    return 0


def metadata_bytes(model: Any) -> int:
    """How many bytes the metadata takes: the entry inside the model file, or the sidecar file."""
    from device.recognition.modelinfo import METADATA_NAME, sidecar_path
    from device.recognition.tflite_metadata import read_metadata_file

    if model.metadata_origin == "inside":
        return len(read_metadata_file(model.path)[METADATA_NAME])
    return sidecar_path(model.path).stat().st_size


def describe(model: Any) -> str:
    """The human-readable description of a loaded ``TFLiteModel``."""
    from device.recognition.modelinfo import sidecar_path
    from device.recognition.preprocess import SUPPORTED_PREPROCESS_VERSIONS

    info = model.metadata
    size_kib = model.path.stat().st_size / 1024
    where = (f"inside the file ({metadata_bytes(model):,} bytes)" if model.metadata_origin == "inside"
             else f"in the older sidecar {sidecar_path(model.path).name} (python -m convert --embed-sidecar "
                  f"{model.path} makes it one file)")
    lines = [
        f"model: {model.path} ({size_kib:.0f} KiB, {info.kind}), metadata {where}",
        f"classes: {len(model.labels)}: {' '.join(model.labels)}",
        f"preprocessing: {info.preprocess_version} (this device code knows "
        f"{', '.join(sorted(SUPPORTED_PREPROCESS_VERSIONS))})",
    ]
    lines += [f"  {name}: {text}" for name, text in info.input_normalisation.items()]
    lines += [
        f"input: {_tensor(model.input_quantization, [1, *info.input_shape])}",
        f"output: {_tensor(model.output_quantization, [1, len(model.labels)])}",
        f"quantization: {_quantization(info)}",
        f"trained: {_training(info)}",
        "data:",
    ]
    data = info.training.get("data") or []
    lines += [f"  {_source(source)}" for source in data] or ["  not recorded"]
    lines.append(f"figures: {_figures(info)}")
    made = ", ".join(f"{name} {version}" for name, version in info.tools.items())
    lines.append(f"made: {info.created or 'date not recorded'}" + (f" with {made}" if made else ""))
    return "\n".join(lines)


def _tensor(q: Any, shape: list[int]) -> str:
    text = f"{q.dtype} {shape}"
    return text + (f", scale {q.scale:.6g}, zero point {q.zero_point}" if q.scale else "")


def _quantization(info: Any) -> str:
    if info.kind != "int8":
        return "none (float32 weights and activations)"
    calibration = info.calibration
    if not calibration:
        return "full-integer int8 (calibration not recorded)"
    text = (f"full-integer int8, calibrated on {calibration.get('size', '?')} images from "
            f"{calibration.get('source', '?')} (seed {calibration.get('seed', '?')})")
    if "logit_floor" in calibration:
        text += f", logit floor {calibration['logit_floor']}"
    return text


def _training(info: Any) -> str:
    training = info.training
    recipe = training.get("recipe", "not recorded")
    text = f"recipe {recipe}"
    if training.get("recorded_by"):
        text += f" (recorded by {training['recorded_by']})"
    if info.source_model:
        text += f", from {info.source_model}"
        if info.source_sha256:
            text += f" (sha256 {info.source_sha256[:12]}...)"
    return text


def _source(source: dict[str, Any]) -> str:
    text = f"{source.get('name', '?')}: {source.get('licence', 'licence not recorded')}"
    if source.get("attribution"):
        text += f"; {source['attribution']}"
    if source.get("url"):
        text += f"; {source['url']}"
    return text


def _figures(info: Any) -> str:
    accuracy = info.accuracy
    if accuracy is None:
        return "none recorded"
    return (f"{accuracy.test_set} ({accuracy.count} digits): Keras {100 * accuracy.keras:.2f} %, "
            f"this model {100 * accuracy.tflite:.2f} %")
