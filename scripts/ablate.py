"""Trainings that compare settings the paper leaves open (docs/paper-choices.md) or variants of a recipe.

    python scripts/ablate.py --data ../shared/data/mnist.npz --epochs 3 pool2=max pool2=avg dropout=0
    python scripts/ablate.py --recipe robust --epochs 60 --parallel 3 --out runs/sweep base l2=1e-4 \\
        l2=1e-4,clean_fraction=0.6

Each VARIANT is ``field=value`` (several joined by commas; ``base`` for none) on the ModelConfig (l2, pool2,
dropout, init_scale) of a recipe (``--recipe``, default ``paper-plain``) or on the recipe itself
(learning_rate, lr_floor, batch_size, epochs, clean_fraction). Every variant trains with the same seed and
data. ``--parallel N`` trains N variants at once, each in its own process with its share of the CPU cores for
augmentation: on a GPU machine the small network leaves the GPU mostly idle, so several runs share it well.
The script prints one line per variant: its MNIST test accuracy after the given number of epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from train.model import ModelConfig
from train.recipes import RECIPES, Recipe, get_recipe

RESULT_PREFIX = "ablate-result "


def apply_variant(text: str, epochs: int, base: str = "paper-plain") -> Recipe:
    """The recipe ``base`` with the ``field=value[,field=value...]`` changes of ``text``."""
    recipe = get_recipe(base, epochs=epochs)
    if text in ("", "base"):
        return recipe
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    recipe_fields = {f.name for f in dataclasses.fields(recipe)} - {"name", "model"}
    for change in text.split(","):
        field, _, raw = change.partition("=")
        if field not in model_fields | recipe_fields:
            raise SystemExit(f"ablate: error: unknown setting {field!r}")
        try:
            value: object = raw if field == "pool2" else float(raw)
            if field in ("batch_size", "epochs"):
                value = int(float(raw))
        except ValueError:
            raise SystemExit(f"ablate: error: {change!r}: {field} needs a number") from None
        if field in model_fields:
            recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, **{field: value}))
        else:
            recipe = dataclasses.replace(recipe, **{field: value})
    return recipe


def slug(variant: str) -> str:
    """A folder name for a variant: ``l2=1e-4,dropout=0`` -> ``l2_1e-4-dropout_0``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", (variant or "base").replace(",", "-").replace("=", "_"))


def train_one(variant: str, args: argparse.Namespace, out_dir: Path, workers: int | None) -> dict:
    from train.trainer import RunOptions, run_training

    recipe = apply_variant(variant, args.epochs, args.recipe)
    result = run_training(RunOptions(recipe=recipe, out_dir=out_dir, data=args.data, seed=args.seed, verbose=2,
                                     command=f"ablate --recipe {args.recipe} {variant}", workers=workers))
    return {"variant": variant or "base", "accuracy": result.test.accuracy, "seconds": result.seconds,
            "model": str(result.model_path)}


def run_in_parallel(args: argparse.Namespace, out_root: Path) -> list[dict]:
    """Each variant in a child process (this script with --child), at most --parallel at once."""
    workers = max(1, ((os.cpu_count() or 2) - 1) // args.parallel)
    waiting, running, results = list(args.variants), [], []
    while waiting or running:
        while waiting and len(running) < args.parallel:
            variant = waiting.pop(0)
            log = (out_root / f"{slug(variant)}.log").open("w")
            command = [sys.executable, __file__, "--child", variant, "--recipe", args.recipe, "--epochs",
                       str(args.epochs), "--seed", str(args.seed), "--workers", str(workers), "--out", str(out_root)]
            if args.data is not None:
                command += ["--data", str(args.data)]
            # JAX would otherwise give each process most of the GPU's memory, and the second would fail
            env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
            running.append((variant, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log))
        time.sleep(2)
        for entry in [e for e in running if e[1].poll() is not None]:
            variant, process, log = entry
            running.remove(entry)
            log.close()
            lines = (out_root / f"{slug(variant)}.log").read_text().splitlines()
            found = [json.loads(line[len(RESULT_PREFIX):]) for line in lines if line.startswith(RESULT_PREFIX)]
            if process.returncode != 0 or not found:
                print(f"{variant}: failed (exit {process.returncode}), see {out_root / slug(variant)}.log",
                      flush=True)
                continue
            results.append(found[0])
            print(f"{variant}: {100 * found[0]['accuracy']:.2f} %", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", default=["base"], help="field=value[,field=value] changes")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="paper-plain",
                        help="the recipe the variants change (default paper-plain, the one of docs/paper-choices.md)")
    parser.add_argument("--data", type=Path, default=None, help="MNIST .npz (default: Keras download)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=1, help="variants trained at once (default 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep each run (model, report, plots) in OUT/VARIANT (default: a temporary folder)")
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # one variant, run by --parallel
    args = parser.parse_args()
    for variant in args.variants:
        apply_variant(variant, args.epochs, args.recipe)  # a typo fails now, not after an hour of training

    if args.child is not None:
        result = train_one(args.child, args, args.out / slug(args.child), args.workers)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    with tempfile.TemporaryDirectory(prefix="ablate-") as temp:
        out_root = args.out or Path(temp)
        out_root.mkdir(parents=True, exist_ok=True)
        if args.parallel > 1:
            results = run_in_parallel(args, out_root)
        else:
            results = []
            for variant in args.variants:
                results.append(train_one(variant, args, out_root / slug(variant), args.workers))
                print(f"{variant}: {100 * results[-1]['accuracy']:.2f} %", flush=True)
    print(f"\nMNIST test accuracy after {args.epochs} epochs of {args.recipe}, seed {args.seed}:")
    for result in results:
        print(f"  {result['variant']:32s} {100 * result['accuracy']:6.2f} %   ({result['seconds'] / 60:.1f} min)")
    return 0 if len(results) == len(args.variants) else 1


if __name__ == "__main__":
    sys.exit(main())
