"""``device bench``: where the time of one frame goes, and what building the interpreter once saves.

The frame is a JPEG (default: the bundled sample scene with six digits), decoded every time as a
camera frame would be. Timed per frame: decode (stands in for capture), segmentation,
normalisation + the paper's preprocessing, inference (all digits in one invoke). Then, in the same
run, the naive loop of many camera examples: a new interpreter built and allocated for every frame,
and one invoke per digit. The ratio of the two medians is what building the interpreter once (and
batching) buys. Peak memory is the process's peak resident set size (``getrusage``).
"""

from __future__ import annotations

import csv
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from device.common.images import IMAGE_SUFFIXES
from device.common.progress import progress_bar
from device.recognition.preprocess import prepare_crops
from device.recognition.recognizer import Recognizer, reading_string
from device.recognition.runtime import load_interpreter_class
from device.recognition.segment import segment

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STAGES = ("decode", "segment", "preprocess", "inference")


class BenchError(Exception):
    """A benchmark that cannot run (no image); one-line message."""


def default_bench_image(digits: int = 6) -> Path:
    """The bundled sample scene with ``digits`` digits on one line (see device/samples/labels.csv)."""
    labels = SAMPLES / "labels.csv"
    if labels.is_file():
        with open(labels, newline="") as f:
            for row in csv.DictReader(f):
                is_image = Path(row["file"]).suffix.lower() in IMAGE_SUFFIXES
                if is_image and len(row["text"]) == digits and " " not in row["text"]:
                    return SAMPLES / row["file"]
    raise BenchError(f"no bundled sample with {digits} digits in {SAMPLES}: pass --image")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if peak > 1 << 32 else peak / 1024


@dataclass
class BenchResult:
    """Per-stage times (seconds per frame), the naive loop's times, memory and what was read."""

    image: Path
    frame_size: tuple[int, int]
    reading: str
    digits: int
    stage_seconds: dict[str, list[float]] = field(default_factory=dict)
    total_seconds: list[float] = field(default_factory=list)
    naive_seconds: list[float] = field(default_factory=list)
    naive_build_seconds: list[float] = field(default_factory=list)
    peak_rss_pipeline_mb: float = 0.0
    peak_rss_end_mb: float = 0.0
    runtime: str = ""
    threads: int = 1

    def median_ms(self, values: list[float]) -> float:
        return 1000.0 * statistics.median(values) if values else float("nan")

    @property
    def fps(self) -> float:
        return 1000.0 / self.median_ms(self.total_seconds)

    @property
    def speedup(self) -> float:
        return self.median_ms(self.naive_seconds) / self.median_ms(self.total_seconds)

    def to_dict(self) -> dict[str, object]:
        """The figures as plain JSON types (``device bench --json``)."""
        return {
            "image": str(self.image),
            "frame_size": list(self.frame_size),
            "reading": self.reading,
            "digits": self.digits,
            "runtime": self.runtime,
            "threads": self.threads,
            "median_ms": {s: self.median_ms(v) for s, v in self.stage_seconds.items()},
            "frame_median_ms": self.median_ms(self.total_seconds),
            "fps": self.fps,
            "naive_frame_median_ms": self.median_ms(self.naive_seconds),
            "naive_build_median_ms": self.median_ms(self.naive_build_seconds),
            "speedup": self.speedup,
            "peak_rss_mb": self.peak_rss_pipeline_mb,
            "peak_rss_end_mb": self.peak_rss_end_mb,
        }

    def report(self) -> str:
        w, h = self.frame_size
        lines = [
            f"image: {self.image} ({w}x{h}), {self.digits} digits read: {self.reading or '-'}",
            f"runtime: {self.runtime}, {self.threads} thread(s); {len(self.total_seconds)} frames timed",
            "stage                          median ms   p90 ms   min ms",
        ]
        for stage in STAGES:
            values = self.stage_seconds.get(stage, [])
            p90 = 1000.0 * float(np.percentile(values, 90)) if values else float("nan")
            fastest = 1000.0 * min(values) if values else float("nan")
            lines.append(f"  {stage:<28} {self.median_ms(values):9.2f} {p90:8.2f} {fastest:8.2f}")
        lines += [
            f"  {'whole frame':<28} {self.median_ms(self.total_seconds):9.2f} "
            f"{1000.0 * float(np.percentile(self.total_seconds, 90)):8.2f} {1000.0 * min(self.total_seconds):8.2f}",
            f"frames per second: {self.fps:.1f} (from the median frame)",
            f"peak RSS: {self.peak_rss_pipeline_mb:.1f} MiB (pipeline), {self.peak_rss_end_mb:.1f} MiB "
            f"(after the naive loop)",
            f"naive loop (new interpreter every frame, one invoke per digit), "
            f"{len(self.naive_seconds)} frames: median {self.median_ms(self.naive_seconds):.2f} ms/frame, "
            f"of which building the interpreter {self.median_ms(self.naive_build_seconds):.2f} ms",
            f"speed-up of the pipeline over the naive loop: {self.speedup:.1f}x",
        ]
        return "\n".join(lines)


def _naive_frame(jpeg: np.ndarray, model_path: Path, interpreter_class: type, threads: int) -> tuple[float, float]:
    """One frame the naive way; (total seconds, seconds spent building the interpreter)."""
    start = time.perf_counter()
    frame = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    crops = [s.crop for s in segment(frame)]
    batch = prepare_crops(crops, ink="dark") if crops else np.zeros((0, 28, 28, 1), np.float32)
    built = time.perf_counter()
    interpreter = interpreter_class(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    build = time.perf_counter() - built
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero = inp["quantization"]
    for digit in batch:
        x = digit[None]
        if scale:
            x = np.clip(np.round(x / scale) + zero, -128, 127).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        interpreter.get_tensor(out["index"])
    return time.perf_counter() - start, build


def run_bench(
    recognizer: Recognizer,
    image: Path,
    frames: int = 100,
    naive_frames: int = 20,
    warmup: int = 3,
    progress: bool = True,
) -> BenchResult:
    """Time ``frames`` frames through the pipeline, then ``naive_frames`` through the naive loop."""
    try:
        jpeg = np.fromfile(image, dtype=np.uint8)
    except OSError as exc:
        raise BenchError(f"{image}: cannot read ({exc.strerror})") from None
    frame = cv2.imdecode(jpeg, cv2.IMREAD_COLOR) if jpeg.size else None
    if frame is None:
        raise BenchError(f"{image}: not a readable image")
    detections = recognizer.read(frame)
    result = BenchResult(
        image=image,
        frame_size=(frame.shape[1], frame.shape[0]),
        reading=reading_string(detections),
        digits=len(detections),
        stage_seconds={s: [] for s in STAGES},
        runtime=recognizer.runtime_name,
    )

    for i in progress_bar(range(warmup + frames), desc="pipeline", unit="frame", disable=not progress):
        timings: dict[str, float] = {}
        start = time.perf_counter()
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        timings["decode"] = time.perf_counter() - start
        recognizer.read(decoded, timings=timings)
        total = time.perf_counter() - start
        if i >= warmup:
            for stage in STAGES:
                result.stage_seconds[stage].append(timings[stage])
            result.total_seconds.append(total)
    result.peak_rss_pipeline_mb = peak_rss_mb()

    interpreter_class, _name = load_interpreter_class()
    threads = recognizer.model.num_threads
    result.threads = threads
    for _ in progress_bar(range(naive_frames), desc="naive loop", unit="frame", disable=not progress):
        total, build = _naive_frame(jpeg, recognizer.model.path, interpreter_class, threads)
        result.naive_seconds.append(total)
        result.naive_build_seconds.append(build)
    result.peak_rss_end_mb = peak_rss_mb()
    return result
