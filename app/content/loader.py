"""Load walkthrough YAML into the schema, with errors that give file, key path and line.

Beyond the schema, ``load_walkthrough`` checks what only the registries know: that
every widget exists and its args validate against the widget's parameter model, that
every model is in the zoo, and that every exercise check is registered.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from app.content.schema import Index, Walkthrough

CONTENT_DIR = Path(__file__).resolve().parent.parent.parent / "content"


def content_root() -> Path:
    """content/, or $INTERP_READER_CONTENT (for authors previewing a draft folder, and tests)."""
    env = os.environ.get("INTERP_READER_CONTENT")
    return Path(env) if env else CONTENT_DIR


@dataclass(frozen=True)
class ContentError:
    """One problem in one file: where (key path, line) and how to fix it."""

    file: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<top>'}: {self.message}"


class ContentErrors(Exception):
    """Raised with every problem found in a file."""

    def __init__(self, errors: list[ContentError]):
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def _fmt_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_index(node, path: tuple = (), index: dict | None = None) -> dict[tuple, int]:
    """Map every key path in a composed YAML tree to its 1-based line."""
    index = {} if index is None else index
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[path + (key,)] = key_node.start_mark.line + 1
            _line_index(value_node, path + (key,), index)
            index[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, path + (i,), index)
    return index


def _line_for(index: dict[tuple, int], loc: tuple) -> int | None:
    loc = tuple(loc)
    while loc and loc not in index:
        loc = loc[:-1]
    return index.get(loc)


def read_yaml(path: Path) -> tuple[object, dict[tuple, int]]:
    """Parse a YAML file; broken YAML raises ContentErrors with the parser's line."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ContentErrors([ContentError(name, "", None, f"cannot read file: {err}")]) from err
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(err, "problem", None) or str(err)
        raise ContentErrors([ContentError(name, "", line, f"broken YAML: {problem}")]) from err
    return data, (_line_index(node) if node is not None else {})


def _validation_errors(name: str, err: ValidationError, index: dict, prefix: tuple = ()) -> list[ContentError]:
    out = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}: remove it or check its spelling"
        elif e["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}"
        out.append(ContentError(name, _fmt_path(loc), _line_for(index, loc), msg))
    return out


def _semantic_errors(name: str, wt: Walkthrough, index: dict) -> list[ContentError]:
    from app import exercises, widgets, zoo

    errors: list[ContentError] = []
    valid_models = zoo.names() + zoo.toy_names()  # toy models (e.g. tms) have no transformer to load
    for i, model in enumerate(wt.models):
        if model not in valid_models:
            loc = ("models", i)
            errors.append(ContentError(name, _fmt_path(loc), _line_for(index, loc),
                                       f"unknown model {model!r}; valid models: {', '.join(valid_models)}"))
    for si, section in enumerate(wt.sections):
        for bi, block in enumerate(section.blocks):
            base = ("sections", si, "blocks", bi)
            if block.widget is not None:
                if block.widget not in widgets.REGISTRY:
                    loc = base + ("widget",)
                    errors.append(ContentError(name, _fmt_path(loc), _line_for(index, loc),
                                               f"unknown widget {block.widget!r}; valid widgets: {', '.join(sorted(widgets.REGISTRY))}"))
                    continue
                try:
                    widgets.REGISTRY[block.widget].model_validate(block.args)
                except ValidationError as err:
                    errors += _validation_errors(name, err, index, base + ("args",))
            if block.exercise is not None and block.exercise.check is not None:
                check = block.exercise.check
                loc = base + ("exercise", "check", "fn")
                if check.fn not in exercises.CHECKS:
                    errors.append(ContentError(name, _fmt_path(loc), _line_for(index, loc),
                                               f"unknown check {check.fn!r}; valid checks: {', '.join(sorted(exercises.CHECKS))}"))
                else:
                    problem = exercises.validate_args(check.fn, check.args)
                    if problem:
                        loc = base + ("exercise", "check", "args")
                        errors.append(ContentError(name, _fmt_path(loc), _line_for(index, loc), problem))
    return errors


def _stamp(path: Path) -> tuple:
    """What would change a parsed file: its path, size and mtime (None when it is missing)."""
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), st.st_size, st.st_mtime_ns)


# Every page view used to re-parse YAML: the navigation loads all 12 walkthroughs each rerun, so parsing was
# about 37% of a page render's CPU (py-spy on the real server; ``bench/load.py`` reports the server's CPU per
# session). Parsed files are cached by their stamps (lru_cache does not cache a raised ContentErrors); parsed
# walkthroughs are frozen pydantic models, shared read-only between sessions.
@functools.lru_cache(maxsize=64)
def _cached_walkthrough(stamp: tuple, models_stamp: tuple) -> Walkthrough:
    return _load_walkthrough(Path(stamp[0]))


@functools.lru_cache(maxsize=8)
def _cached_index(stamp: tuple, folder_stamp: tuple) -> Index:
    return _load_index(Path(folder_stamp[0]), Path(stamp[0]))


def load_walkthrough(path: Path) -> Walkthrough:
    """Read, validate and cross-check one walkthrough; raises ContentErrors listing every problem.

    Cached by the file's size and mtime and by the models folder's mtime (the cross-checks read the zoo).
    """
    from app import zoo

    return _cached_walkthrough(_stamp(path), _stamp(zoo.MODELS_DIR))


def _load_walkthrough(path: Path) -> Walkthrough:
    data, index = read_yaml(path)
    name = path.name
    if not isinstance(data, dict):
        raise ContentErrors([ContentError(name, "", 1, "a walkthrough must be a YAML mapping (id, title, paper, ...)")])
    try:
        wt = Walkthrough.model_validate(data)
    except ValidationError as err:
        raise ContentErrors(_validation_errors(name, err, index)) from err
    errors = _semantic_errors(name, wt, index)
    if wt.id != path.stem:
        errors.append(ContentError(name, "id", _line_for(index, ("id",)), f"id {wt.id!r} must match the file name {path.stem!r}"))
    if errors:
        raise ContentErrors(errors)
    return wt


def load_index(content_dir: Path | None = None) -> Index:
    """The catalogue index (content/index.yaml), cached by its stat and its folder's (which files exist)."""
    content_dir = content_dir or content_root()
    path = content_dir / "index.yaml"
    return _cached_index(_stamp(path), _stamp(content_dir))


def _load_index(content_dir: Path, path: Path) -> Index:
    data, index = read_yaml(path)
    try:
        idx = Index.model_validate(data)
    except ValidationError as err:
        raise ContentErrors(_validation_errors(path.name, err, index)) from err
    errors = []
    for i, entry in enumerate(idx.papers):
        if not (content_dir / f"{entry.id}.yaml").is_file() and not (entry.title and entry.paper and entry.summary):
            loc = ("papers", i)
            errors.append(ContentError(path.name, _fmt_path(loc), _line_for(index, loc),
                                       f"{entry.id!r} has no walkthrough file, so it needs title, paper and summary"))
    if errors:
        raise ContentErrors(errors)
    return idx


def walkthrough_path(wid: str, content_dir: Path | None = None) -> Path:
    return (content_dir or content_root()) / f"{wid}.yaml"


def check_all(content_dir: Path | None = None) -> list[ContentError]:
    """Every problem in every YAML file under ``content_dir``."""
    content_dir = content_dir or content_root()
    errors: list[ContentError] = []
    if content_dir == CONTENT_DIR or (content_dir / "index.yaml").is_file():  # drafts/ has no index
        try:
            load_index(content_dir)
        except ContentErrors as err:
            errors += err.errors
    for path in sorted(content_dir.glob("*.yaml")):
        if path.name == "index.yaml":
            continue
        try:
            load_walkthrough(path)
        except ContentErrors as err:
            errors += err.errors
    return errors
