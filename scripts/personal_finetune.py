"""How much a personal fine-tune (train --config personal) teaches the shipped model about one hand.

Two stand-ins for "a user's hand", both from ../shared/data (research data, never committed): the USPS digits
and the digit crops of the ORAND-CAR A dev strings (cut and normalised as camera crops, split by image). For
each set and each size (100, 200, 300 training digits) it draws the training digits once per draw with a seed
(ORAND: whole images until the size is reached), fine-tunes the shipped Keras model with the personal recipe
and measures the rest of the set (never trained on, nor used for early stopping) before and after, and MNIST
test after. It prints one line per fine-tune and then the table of docs/log/2026-12.md (mean and spread over draws).

    python scripts/personal_finetune.py --data ../shared/data/mnist.npz
    python scripts/personal_finetune.py --sets usps --sizes 100 --draws 1 --first-draw 100 own_share=0.5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.data.digitsets import DigitSet, load_digits
from train.personal import PersonalRecipe, stable_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class HandSet:
    """A stand-in hand: its digits and the unit a draw takes whole (a digit, or an image of digits)."""

    name: str
    digits: DigitSet
    groups: np.ndarray  # (N,) the unit of each digit


def load_hand(name: str) -> HandSet:
    if name == "usps":
        digits = load_digits(SHARED / "usps" / "usps.npz")
        return HandSet("USPS", digits, np.arange(len(digits)))
    from device.data.stringsets import digit_crops, load_string_set

    crops = digit_crops(load_string_set(SHARED / "orand_car_a_dev"))
    return HandSet("ORAND-CAR A dev", crops.digits, crops.groups)


def draw(hand: HandSet, size: int, seed: int) -> np.ndarray:
    """Boolean mask of the training digits: whole units in a seeded order until ``size`` digits."""
    units = np.unique(hand.groups)
    order = np.random.default_rng([seed, size]).permutation(units)
    counts = np.bincount(hand.groups, minlength=int(units.max()) + 1)[order]
    take = order[: int(np.searchsorted(np.cumsum(counts), size)) + 1]
    return np.isin(hand.groups, take)


def subset(digits: DigitSet, mask: np.ndarray) -> DigitSet:
    return DigitSet(digits.x[mask], digits.y[mask], digits.style)


def parse_overrides(pairs: list[str]) -> PersonalRecipe:
    recipe = PersonalRecipe()
    changes: dict[str, object] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in recipe.__dataclass_fields__:
            raise SystemExit(f"personal_finetune: unknown recipe setting {key!r}")
        current = getattr(recipe, key)
        if isinstance(current, tuple):
            changes[key] = tuple(v for v in value.split(",") if v)
        else:
            changes[key] = type(current)(value)
    return replace(recipe, **changes)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return f"{os.cpu_count()} cores, {cpu}"


def load_avg() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


def mean_spread(values: list[float]) -> str:
    a = 100 * np.asarray(values)
    return f"{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED / "mnist.npz", help="MNIST .npz (Keras layout)")
    parser.add_argument("--init", type=Path, default=Path("train/models/reader.keras"))
    parser.add_argument("--sets", nargs="+", choices=["usps", "orand"], default=["usps", "orand"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 200, 300])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--first-draw", type=int, default=0, help="seed of the first draw (tuning: 100+)")
    parser.add_argument("overrides", nargs="*", help="recipe settings, e.g. own_share=0.5 freeze=conv1,conv2")
    args = parser.parse_args(argv)
    recipe = parse_overrides(args.overrides)

    import keras

    from train.data import load_mnist
    from train.finetune import finetune, read_digits

    mnist = load_mnist(args.data)
    base = keras.saving.load_model(args.init, compile=False)
    mnist_before = float((read_digits(base, mnist.test.x) == mnist.test.y).mean())
    print(f"recipe: {recipe.to_dict()}\nmachine: {machine()}\nstart: {load_avg()}")
    print(f"starting model {args.init}: MNIST test {100 * mnist_before:.2f} %", flush=True)
    rows = []
    for set_name in args.sets:
        hand = load_hand(set_name)
        before_all = read_digits(base, hand.digits.x)
        print(f"{hand.name}: {len(hand.digits)} digits, starting model reads "
              f"{100 * (before_all == hand.digits.y).mean():.2f} %", flush=True)
        for size in args.sizes:
            results = []
            for seed in range(args.first_draw, args.first_draw + args.draws):
                chosen = draw(hand, size, seed)
                own = subset(hand.digits, chosen)
                keys = [str(g) for g in hand.groups[chosen]]
                held_mask = stable_split(keys, recipe.holdout, seed)
                rest = ~chosen
                before = float((before_all[rest] == hand.digits.y[rest]).mean())
                model = keras.saving.load_model(args.init, compile=False)
                started = time.monotonic()
                fit = finetune(model, subset(own, ~held_mask), subset(own, held_mask), mnist.train, recipe, seed)
                after_pred = read_digits(model, hand.digits.x[rest])
                after = float((after_pred == hand.digits.y[rest]).mean())
                mnist_after = float((read_digits(model, mnist.test.x) == mnist.test.y).mean())
                seconds = time.monotonic() - started
                results.append((before, after, mnist_after, seconds))
                print(f"{hand.name:>15} {size:>3} draw {seed}: {len(own)} digits ({int(held_mask.sum())} for early "
                      f"stopping), held-out {rest.sum()}: {100 * before:.2f} -> {100 * after:.2f} %, MNIST "
                      f"{100 * mnist_after:.2f} %, {fit.steps} steps (kept {fit.best_step}), {seconds:.0f} s",
                      flush=True)
            rows.append((hand.name, size, results))
    print(f"end: {load_avg()}\n")
    print("| set | training digits | draws | own held-out before % | after % | gain (points) | "
          "MNIST test after % | seconds per fine-tune |\n|---|---|---|---|---|---|---|---|")
    for name, size, results in rows:
        before, after, mnist_after, seconds = (list(col) for col in zip(*results, strict=True))
        gain = [a - b for a, b in zip(after, before, strict=True)]
        print(f"| {name} | {size} | {len(results)} | {mean_spread(before)} | {mean_spread(after)} | "
              f"{mean_spread(gain)} | {mean_spread(mnist_after)} (min {100 * min(mnist_after):.2f}) | "
              f"{np.mean(seconds):.0f} (max {max(seconds):.0f}) |")
    print("\nmean ± standard deviation over draws; held-out = every digit of the set not drawn for training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
