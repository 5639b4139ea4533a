"""``python -m app.training NAME [--steps N] [--out DIR] [--device cpu|cuda] [--threads T]``.

Text language models (``recipes.RECIPES``) are handled here; every other model has its own
recipe module whose ``main(argv)`` takes the same core flags (``OTHER_RECIPES``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import torch

from app.training import recipes

# model name -> module with ``main(argv)``; argv[0] is the model name.
OTHER_RECIPES = {
    "modadd-113": "app.training.grokking",
    "othello-gpt": "app.training.othello",
    "tms": "app.training.tms",
    "outliers-adam": "app.training.outliers",
    "outliers-sgd": "app.training.outliers",
    "facts-small": "app.training.facts",
    "reversal-small": "app.training.reversal",
    "ioi-small": "app.training.ioi",
    "ioi-shortcut": "app.training.ioi",
    "code-1l-mlp": "app.training.sae",
    "code-1l-mlp-sae": "app.training.sae",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in OTHER_RECIPES:
        importlib.import_module(OTHER_RECIPES[argv[0]]).main(argv)
        return
    parser = argparse.ArgumentParser(prog="python -m app.training", description=__doc__)
    parser.add_argument("name", help=f"one of: {', '.join(sorted([*recipes.RECIPES, *OTHER_RECIPES]))}")
    parser.add_argument("--steps", type=int, help="override the recipe's step count (smoke tests)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any recipe field, e.g. --set lr=3e-3 (repeatable)")
    parser.add_argument("--out", type=Path, help="output folder (default models/NAME)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--max-chars", type=int, help="cap the corpus size (smoke tests)")
    parser.add_argument("--corpus-root", type=Path,
                        help="read the corpus from this copy of a standard library (default: this Python's own)")
    parser.add_argument("--remeasure", action="store_true",
                        help="no training: re-measure the saved weights, rewrite metrics.json and card.md")
    args = parser.parse_args(argv)
    try:
        overrides = ({"steps": args.steps} if args.steps else {}) | recipes.parse_sets(recipes.TextLMRecipe, args.set)
        recipe = recipes.get(args.name, **overrides)
    except (KeyError, TypeError, ValueError) as err:
        parser.error(str(err).strip("'\""))
    from app import (
        zoo,  # sets torch's threads to the app's default; the recipe sets its own below
    )
    from app.training.text_lm import train

    torch.set_num_threads(args.threads)

    out = args.out or zoo.MODELS_DIR / args.name
    if args.remeasure:
        from app.training.text_lm import remeasure

        metrics = remeasure(recipe, out)
        print(f"re-measured {out}: val loss {metrics['loss']:.3f}")
        return
    metrics = train(recipe, out, device=args.device, max_chars=args.max_chars, corpus_root=args.corpus_root)
    print(f"wrote {out}: val loss {metrics['loss']:.3f} in {metrics['training']['seconds']:.0f}s")


if __name__ == "__main__":
    main()
