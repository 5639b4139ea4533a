"""``python -m app.content check [DIR]`` validates every walkthrough; ``schema`` prints the JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.content.loader import check_all, content_root
from app.content.schema import Walkthrough


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"check", "schema"}:
        print("usage: python -m app.content check [DIR] | schema", file=sys.stderr)
        return 2
    if argv[0] == "schema":
        print(json.dumps(Walkthrough.model_json_schema(), indent=2))
        return 0
    content_dir = Path(argv[1]) if len(argv) > 1 else content_root()
    errors = check_all(content_dir)
    for err in errors:
        print(err)
    n = len(list(content_dir.glob("*.yaml")))
    print(f"{n} file(s) checked, {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
