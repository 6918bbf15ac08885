"""Short trainings that compare settings the paper leaves open (docs/paper-choices.md).

    python scripts/ablate.py --data ../shared/data/mnist.npz --epochs 3 pool2=max pool2=avg dropout=0

Each VARIANT is ``field=value`` on the ModelConfig (l2, pool2, dropout, init_scale) of a recipe (``--recipe``,
default ``paper-plain``) or on the recipe itself (learning_rate, batch_size, epochs, clean_fraction). Every
variant trains with the same seed and data, and the script prints one line per variant: its MNIST test
accuracy after the given number of epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from train.model import ModelConfig
from train.recipes import RECIPES, get_recipe
from train.trainer import RunOptions, run_training


def apply_variant(text: str, epochs: int, base: str = "paper-plain"):
    """The recipe ``base`` with one ``field=value`` changed."""
    recipe = get_recipe(base, epochs=epochs)
    if not text:
        return recipe
    field, _, raw = text.partition("=")
    model_fields = {f.name: f.type for f in dataclasses.fields(ModelConfig)}
    recipe_fields = {f.name for f in dataclasses.fields(recipe)}
    value: object = raw if field == "pool2" else float(raw)
    if field in model_fields:
        return dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, **{field: value}))
    if field in recipe_fields:
        if field in ("batch_size", "epochs"):
            value = int(float(raw))
        return dataclasses.replace(recipe, **{field: value})
    raise SystemExit(f"ablate: error: unknown setting {field!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", default=[""], help="field=value changes to the recipe")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="paper-plain",
                        help="the recipe the variants change (default paper-plain, the one of docs/paper-choices.md)")
    parser.add_argument("--data", type=Path, default=None, help="MNIST .npz (default: Keras download)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = []
    for variant in args.variants:
        recipe = apply_variant(variant, args.epochs, args.recipe)
        with tempfile.TemporaryDirectory(prefix="ablate-") as out:
            result = run_training(RunOptions(recipe=recipe, out_dir=Path(out), data=args.data, seed=args.seed,
                                             verbose=2, command=f"ablate {variant}"))
        results.append((variant or f"({args.recipe} recipe)", result.test.accuracy, result.seconds))
        print(f"{variant or f'({args.recipe} recipe)'}: {100 * result.test.accuracy:.2f} %", flush=True)
    print(f"\nMNIST test accuracy after {args.epochs} epochs, seed {args.seed}:")
    for name, accuracy, seconds in results:
        print(f"  {name:24s} {100 * accuracy:6.2f} %   ({seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
