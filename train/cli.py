"""`train`: train the paper's network on MNIST (optionally with another handwriting set) and report.

    train --config paper --data ../shared/data/mnist.npz --out runs/paper
    train --config paper --data mnist.npz --extra usps.npz --out runs/usps
    train --init train/models/reader.keras --extra my_digits/ --data mnist.npz --out runs/mine   # personal
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from device.common.argtypes import positive_float, positive_int
from train.recipes import RECIPES

PERSONAL = "personal"
SHIPPED_MODEL = Path(__file__).resolve().parent / "models" / "reader.keras"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train",
        description="Train the convolutional-autoencoder digit network of Zeng, Meng and Guo; writes "
        "OUT/model.keras, checkpoints, TensorBoard logs, history.csv and report.md with plots.",
    )
    parser.add_argument("--config", choices=[*sorted(RECIPES), PERSONAL], default=None,
                        help="recipe: 'paper' (MNIST as in the paper, elastically distorted), 'paper-plain' "
                        "(no augmentation), 'robust' (camera-like augmentation), 'styles' (robust plus the writing "
                        "styles MNIST lacks, patterned paper and JPEG), 'reader' (styles plus an eleventh class, "
                        "non-digit: touching digits and marks, for the string reader) or 'personal' "
                        "(fine-tune a trained model on a few hundred of your own digits: --extra my_digits/). "
                        "Default: personal with --init and --extra, else paper")
    parser.add_argument("--data", type=Path, default=None,
                        help="MNIST as a Keras-layout .npz or a folder of the four IDX files; "
                        "default: the Keras download and cache (~/.keras/datasets)")
    parser.add_argument("--extra", type=Path, default=None,
                        help="another people's handwriting (.npz with x/y or Keras layout, or a folder "
                        "0/..9/ of images, e.g. my_digits/ from device collect). With 'personal': your digits, a "
                        "fixed share of every batch, a fifth held out (by file) to stop and measure the run; "
                        "with another recipe: half mixed into training, half held out and reported")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's)")
    length.add_argument("--steps", type=positive_int, help="training steps (batches) instead of epochs; "
                        "with 'personal', the most steps to run (default 400; early stopping often ends sooner)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="global batch size, split across GPUs (default: the recipe's, 128)")
    parser.add_argument("--init", type=Path, default=None, metavar="MODEL.keras",
                        help="start from the weights of this trained model of the network instead of a random "
                        "initialisation: fine-tuning, e.g. the shipped model (train/models/reader.keras) on your "
                        "own handwriting with --extra (the 'personal' recipe; its default starting model)")
    parser.add_argument("--learning-rate", type=positive_float, default=None, metavar="LR",
                        help="Adam's initial learning rate, cosine-decayed over the run (default: the "
                        "recipe's, 1e-3; 'personal': 3e-4, constant)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default runs/CONFIG)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --out from its last finished epoch")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    parser.add_argument("--holdout", type=positive_int, default=None, metavar="N",
                        help="hold N MNIST training digits out (seeded, every digit in proportion) and follow them "
                        "each epoch instead of the test set: choose epochs, seeds and recipes on these, so that the "
                        "test set measures only (default: train on all 60,000, follow the test set)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="processes that augment the training digits (default: one per CPU core but one; "
                        "the data are the same for any number)")
    parser.add_argument("--strict", action="store_true",
                        help="'personal': refuse to train when the sanity check finds blank or non-digit images, "
                        "a class the starting model mostly disagrees with, or a missing digit (default: warn)")
    parser.add_argument("--folds", type=positive_int, default=None, metavar="K",
                        help="'personal': also cross-validate on your digits in K folds (K more fine-tunes, "
                        "minutes each): a firmer before/after figure with its spread in report.md (default: off)")
    parser.add_argument("--real-data", type=Path, default=None, metavar="DIR",
                        help="folder of the real handwriting sets the recipe learns from (optdigits_train/, "
                        "uji_pen_chars/, pendigits/, unipen_1a/; docs/data.md); default $ZMG_REAL_DATA, "
                        "else ~/.cache/zmg-digits/real")
    parser.add_argument("--real-sets", default=None, metavar="SET=W,...",
                        help="which real sets, each repeated W times per epoch, e.g. unipen=1,uji=3 or none "
                        "(default: the recipe's; reader-real: unipen=1,uji=3,optdigits=1)")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

    from train.data import DataError
    from train.data_rules import DataRuleError, check_shippable_data
    from train.recipes import get_recipe, parse_real_sets
    from train.trainer import Interrupted, RunError, RunExists, RunOptions, run_training

    for flag, path in (("--data", args.data), ("--extra", args.extra), ("--init", args.init)):
        if path is not None and not path.exists():
            print(f"train: error: {flag} {path}: no such file or folder", file=sys.stderr)
            return 2
    config = args.config or (PERSONAL if args.init is not None and args.extra is not None else "paper")
    if config == PERSONAL:
        if args.holdout:
            print("train: error: --holdout is for the recipes; a personal fine-tune holds out part of your own "
                  "digits by itself", file=sys.stderr)
            return 2
        return _run_personal(args, argv)
    if args.strict or args.folds:
        flag = "--strict" if args.strict else "--folds"
        print(f"train: error: {flag} is for a personal fine-tune: use it with --config personal (or --init "
              "and --extra)", file=sys.stderr)
        return 2
    try:
        real_sets = None if args.real_sets is None else parse_real_sets(args.real_sets)
    except ValueError as err:
        print(f"train: error: --real-sets: {err}", file=sys.stderr)
        return 2
    recipe = get_recipe(config, epochs=args.epochs, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, real_sets=real_sets)
    try:
        check_shippable_data(recipe.name, recipe.shippable, args.extra)
    except DataRuleError as err:
        print(f"train: error: {err}", file=sys.stderr)
        return 2
    out_dir = args.out or Path("runs") / config
    command = "train " + shlex.join(sys.argv[1:] if argv is None else argv)
    options = RunOptions(recipe=recipe, out_dir=out_dir, data=args.data, extra=args.extra, init=args.init,
                         steps=args.steps, seed=args.seed, resume=args.resume,
                         verbose=2 if args.quiet else 1, command=command, workers=args.workers,
                         holdout=args.holdout or 0, real_data=args.real_data)
    try:
        result = run_training(options)
    except RunExists as err:
        print(f"train: error: {err} (--resume continues it)", file=sys.stderr)
        return 2
    except (DataError, RunError) as err:
        print(f"train: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as err:
        print(f"train: {err}: continue with the same command and --resume", file=sys.stderr)
        return 130
    print(f"MNIST test accuracy: {100 * result.test.accuracy:.2f} %")
    if result.extra is not None:
        print(f"{result.extra.name} accuracy: {100 * result.extra.accuracy:.2f} %")
    print(f"model: {result.model_path}\nreport: {result.report_path}")
    return 0


def _run_personal(args: argparse.Namespace, argv: list[str] | None) -> int:
    """``--config personal`` (the default of --init with --extra): train.personal_run."""
    from dataclasses import replace

    from train.data import DataError
    from train.personal import PersonalRecipe
    from train.personal_run import PersonalError, PersonalOptions, run_personal

    if args.extra is None:
        print("train: error: --config personal needs your digits: --extra my_digits/ (a device collect folder)",
              file=sys.stderr)
        return 2
    if args.folds == 1:
        print("train: error: --folds 1 would hold out every digit: give 2 or more", file=sys.stderr)
        return 2
    for flag, value in (("--epochs", args.epochs), ("--resume", args.resume or None)):
        if value is not None:
            print(f"train: error: {flag} does not apply to --config personal (a run of a minute or two; "
                  "--steps caps it)", file=sys.stderr)
            return 2
    recipe = PersonalRecipe()
    if args.learning_rate is not None:
        recipe = replace(recipe, learning_rate=args.learning_rate)
    if args.batch_size is not None:
        recipe = replace(recipe, batch_size=args.batch_size)
    options = PersonalOptions(
        extra=args.extra, init=args.init or SHIPPED_MODEL, out_dir=args.out or Path("runs") / PERSONAL,
        data=args.data, recipe=recipe, max_steps=args.steps, seed=args.seed, strict=args.strict,
        folds=args.folds or 0,
        command="train " + shlex.join(sys.argv[1:] if argv is None else argv))
    try:
        result = run_personal(options, say=lambda line: print(line, flush=True))
    except (DataError, PersonalError) as err:
        print(f"train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train: interrupted; nothing was written", file=sys.stderr)
        return 130
    print(f"MNIST test accuracy: {100 * result.mnist_before.accuracy:.2f} % before, "
          f"{100 * result.mnist_after.accuracy:.2f} % after")
    if result.own_before is not None and result.own_after is not None:
        print(f"{result.own_after.name}: {100 * result.own_before.accuracy:.2f} % before, "
              f"{100 * result.own_after.accuracy:.2f} % after")
    print(f"model: {result.model_path}\nreport: {result.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
