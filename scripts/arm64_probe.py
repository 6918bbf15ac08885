"""Probe the device package where it runs: which TFLite runtime, MNIST accuracy, the bundled samples.

Run by ``scripts/check-arm64.sh`` inside emulated arm64 Debian (once per runtime) and on the host
for a reference; needs only numpy, OpenCV, a TFLite runtime and the repository's ``device/`` and
``tests/data/``. Prints what it found and exits 1 if anything is wrong:

    python3 scripts/arm64_probe.py --repo . [--expect-runtime tflite-runtime] [--reference ref.json]
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RUNTIME_PACKAGES = {
    "ai-edge-litert": "ai-edge-litert",
    "tflite-runtime": "tflite-runtime",
    "tensorflow.lite": "tensorflow",
}
SAMPLE_SUFFIXES = {".png", ".jpg", ".jpeg"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv"}


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def expected_readings(samples: Path) -> dict[str, str]:
    """Sample file name -> expected reading, from the samples' ground truth (labels.csv: file,text)."""
    listing = samples / "labels.csv"
    if not listing.is_file():
        return {}
    with listing.open(newline="") as handle:
        return {row["file"]: row["text"] for row in csv.DictReader(handle)}


def live_demo_readings(repo: Path, video: Path) -> list[str]:
    """Stable readings of ``device live --headless --output jsonl`` on a video, through the real CLI."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    command = [
        sys.executable,
        "-m",
        "device",
        "live",
        "--source",
        str(video),
        "--headless",
        "--output",
        "jsonl",
    ]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"device live exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return [json.loads(line)["reading"] for line in done.stdout.splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--expect-runtime", help="fail unless this runtime is the one loaded")
    parser.add_argument("--reference", type=Path, help="compare predictions with this file (from --write)")
    parser.add_argument("--write", type=Path, help="write predictions here as the reference")
    parser.add_argument("--digits", type=int, default=500, help="MNIST test digits to classify")
    parser.add_argument(
        "--no-live-demo", dest="live_demo", action="store_false", help="skip device live on the sample video"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo))

    import cv2
    import numpy as np

    from device.recognition.preprocess import prepare_mnist
    from device.recognition.runtime import TFLiteModel, load_interpreter_class

    _, runtime = load_interpreter_class()
    print(
        f"machine {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"OpenCV {cv2.__version__}, runtime {runtime} {version_of(RUNTIME_PACKAGES[runtime])}"
    )
    problems: list[str] = []
    if args.expect_runtime and runtime != args.expect_runtime:
        problems.append(f"expected runtime {args.expect_runtime}, loaded {runtime}")

    model = TFLiteModel()
    print(f"model {model.path.relative_to(args.repo)}: input {model.input_dtype}")
    with np.load(args.repo / "tests" / "data" / "mnist_subset.npz", allow_pickle=False) as data:
        x, y = data["x_test"][: args.digits], data["y_test"][: args.digits]
    start = time.perf_counter()
    predictions = model.predict(prepare_mnist(x)).argmax(axis=1)
    seconds = time.perf_counter() - start
    accuracy = float((predictions == y).mean())
    print(f"MNIST subset: {len(y)} digits, accuracy {accuracy:.2%} ({seconds:.1f} s)")
    if accuracy < 0.95:
        problems.append(f"MNIST accuracy {accuracy:.2%} < 95 %")

    readings: dict[str, str] = {}
    samples = args.repo / "device" / "samples"
    expected = expected_readings(samples) if samples.is_dir() else {}
    sample_files = [samples / name for name in expected if Path(name).suffix.lower() in SAMPLE_SUFFIXES]
    if sample_files:
        from device import Recognizer
        from device.recognition.recognizer import reading_string

        recognizer = Recognizer()
        for path in sample_files:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                problems.append(f"{path.name}: unreadable")
                continue
            reading = reading_string(recognizer.read(frame))
            readings[path.name] = reading
            want = expected[path.name]
            verdict = "ok" if reading == want else f"WRONG, expected {want!r}"
            print(f"sample {path.name}: read {reading!r} {verdict}")
            if reading != want:
                problems.append(f"{path.name}: read {reading!r}, expected {want!r}")
    else:
        print("no bundled samples with expected readings (device/samples/labels.csv): skipped")
    videos = (
        [name for name in expected if Path(name).suffix.lower() in VIDEO_SUFFIXES] if args.live_demo else []
    )
    for name in videos:
        start = time.perf_counter()
        stable = live_demo_readings(args.repo, samples / name)
        seconds = time.perf_counter() - start
        readings[name] = stable[-1] if stable else ""
        verdict = "ok" if expected[name] in stable else f"WRONG, expected {expected[name]!r}"
        print(
            f"device live --source {name} --headless --output jsonl: "
            f"stable readings {stable} {verdict} ({seconds:.0f} s)"
        )
        if expected[name] not in stable:
            problems.append(f"device live on {name}: stable readings {stable}, expected {expected[name]!r}")

    result = {"predictions": predictions.tolist(), "readings": readings}
    if args.write:
        args.write.write_text(json.dumps(result))
    if args.reference:
        reference = json.loads(args.reference.read_text())
        same = sum(a == b for a, b in zip(reference["predictions"], result["predictions"], strict=True))
        print(f"agreement with the x86-64 reference: {same}/{len(predictions)} digit predictions identical")
        if same != len(predictions):
            problems.append(f"{len(predictions) - same} predictions differ from the x86-64 reference")
        differing = [name for name, text in readings.items() if reference["readings"].get(name) != text]
        if differing:
            problems.append(f"samples read differently from the x86-64 reference: {', '.join(differing)}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("RESULT:", "ok" if not problems else "FAILED")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
