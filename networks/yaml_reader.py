"""The one YAML reader of evplan's YAML inputs (study and sweep files, vehicle
catalogues): safe, bounded, with file:line errors.

It lives in :mod:`networks`, the bottom layer, so that :mod:`sim` (vehicle catalogues,
:mod:`sim.catalogue`) and :mod:`planner.config` (studies and sweeps, which import it as
``planner.config.yaml_reader``) read YAML with this one code path.

YAML is parsed with PyYAML's safe loader only (no Python objects are ever built). Before
anything is built, the composed document is checked against limits that keep a small file
from making evplan do huge work:

* the file size (:data:`MAX_FILE_BYTES`) and its encoding (UTF-8 text, no NUL bytes);
* the nesting depth (:data:`MAX_DEPTH`; deeper documents made the constructor recurse
  until Python's recursion limit);
* the number of values the document expands to once anchors and aliases are followed
  (:data:`MAX_VALUES`; a 520-byte "billion laughs" file expands to 10^9 strings).

YAML tags (``!custom``, ``!!python/object/apply:...``) are refused with the line they are
on: the safe loader cannot build them, and a study has no use for them.

A key given twice in one mapping (``days: 1`` ... ``days: 5``) is an error naming both
lines: YAML's reader would keep the last value without a word, so an edit lower in a file
could silently undo one above it. A key that overrides a ``<<: *anchor`` merge is not a
duplicate (that is what merge keys are for).

``${VAR}`` and ``${VAR:-default}`` in string values are expanded from the environment by
:func:`expand_vars`; a variable that is unset (or empty) and has no default is an error
naming the file, line and field, rather than silently becoming an empty string.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from networks.errors import ConfigError, EvplanError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "expand_vars",
    "line_of",
    "read_yaml",
]

#: Largest YAML file accepted (bytes); shipped studies are under 10 kB, the built-in vehicle
#: catalogue (sim/catalogue.yaml) under 20 kB.
MAX_FILE_BYTES = 1_000_000
#: Deepest nesting of mappings and lists accepted (shipped studies nest 4 levels).
MAX_DEPTH = 32
#: Most values (scalars, mappings, lists) a document may expand to through aliases.
MAX_VALUES = 200_000

#: Most duplicate keys listed in one error (the rest are found once these are fixed).
_MAX_DUPLICATES = 8
_MERGE_TAG = "tag:yaml.org,2002:merge"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

#: Builds the exception to raise from a message (``ConfigError`` by default; a vehicle
#: catalogue raises ``sim``'s ``VehicleSpecError``).
ErrorFactory = Callable[[str], EvplanError]


def _measure(root: yaml.Node) -> tuple[int, int]:
    """(expanded value count, depth) of a composed document, following aliases (shared
    nodes) without expanding them: memoised, iterative (no recursion on deep input)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            size[key] = min(1 + sum(size[id(c)] for c in children), MAX_VALUES + 1)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            continue
        if key in size:
            continue
        if key in on_path:  # a recursive alias (PyYAML can compose one): infinite expansion
            size[key], depth[key] = MAX_VALUES + 1, MAX_DEPTH + 1
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) not in size:
                stack.append((child, False))
        if len(on_path) > MAX_DEPTH + 1:
            return MAX_VALUES + 1, MAX_DEPTH + 1
    return size[id(root)], depth[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


Located = tuple[yaml.Node, tuple[Any, ...]]  # a node and its field path


def _walk(root: yaml.Node, children: Callable[[Located], list[Located]]) -> list[Located]:
    """Every node under ``root`` once (a shared, aliased node once), with its field path,
    depth first; ``children`` gives a node's children. Iterative like :func:`_measure`."""
    out: list[Located] = []
    visited: set[int] = set()
    stack: list[Located] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        out.append((node, loc))
        stack.extend(children((node, loc)))
    return out


def _key(build: yaml.constructor.SafeConstructor, key_node: yaml.Node) -> Any:
    """A mapping key as the safe loader builds it (``seed`` and ``"seed"``, ``1`` and ``1.0``
    are the same key); None for a merge, a complex key, or one it cannot build (safe_load
    reports those)."""
    if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
        return None
    try:
        key = build.construct_object(key_node)
        hash(key)
    except (yaml.YAMLError, TypeError, ValueError):  # (``!!int abc`` raises ValueError)
        return None
    return key


def _duplicate_keys(root: yaml.Node) -> list[tuple[tuple[Any, ...], int, int]]:
    """Keys given twice in one mapping: ``(field path, line, line of the first)``, by line.

    Keys are compared as the safe loader builds them (:func:`_key`), so exactly the keys
    whose value would be replaced are found."""
    build = yaml.constructor.SafeConstructor()

    def values(located: Located) -> list[Located]:
        node, loc = located
        if isinstance(node, yaml.SequenceNode):
            return [(child, (*loc, i)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            pairs = [(_key(build, k), v) for k, v in node.value]
            return [(v, (*loc, key)) for key, v in pairs if key is not None]
        return []

    found: list[tuple[tuple[Any, ...], int, int]] = []
    for node, loc in _walk(root, values):
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = _key(build, key_node)
            if key is None:
                continue  # a merge is meant to be overridden; complex keys fail later
            line = key_node.start_mark.line + 1
            if key in first:
                found.append(((*loc, key), line, first[key]))
            else:
                first[key] = line
    return sorted(found, key=lambda d: d[1])


def _fields(located: Located) -> list[Located]:
    """A node's children with their field paths: a sequence's items by index, a mapping's
    values by key text (``"?"`` for a complex key); for :func:`_walk`."""
    node, loc = located
    if isinstance(node, yaml.SequenceNode):
        return [(child, (*loc, i)) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        return [
            (v, (*loc, k.value if isinstance(k, yaml.ScalarNode) else "?")) for k, v in node.value
        ]
    return []


def _unsupported_tag(root: yaml.Node) -> tuple[tuple[Any, ...], yaml.Node] | None:
    """The first node (by line) whose tag the safe loader cannot build, with its field path:
    a custom tag (``!custom``) or a Python one (``!!python/object/apply:...``), which made
    the safe loader raise a ConstructorError without a file name."""
    known = {t for t in yaml.SafeLoader.yaml_constructors if t is not None} | {_MERGE_TAG}

    def nodes(located: Located) -> list[Located]:
        # the values with their paths, each after its key (a tag can sit on a key)
        node, loc = located
        values = _fields(located)
        if not isinstance(node, yaml.MappingNode):
            return values
        return [n for (k, _), v in zip(node.value, values, strict=True) for n in ((k, loc), v)]

    found = [(loc, node) for node, loc in _walk(root, nodes) if node.tag not in known]
    return min(found, key=lambda f: f[1].start_mark.index, default=None)


def _unreadable_value(root: yaml.Node) -> tuple[tuple[Any, ...], yaml.ScalarNode, str] | None:
    """The first scalar (by position) the safe loader cannot build, with its field path and
    why: an unquoted date that is no date (``day: 2025-02-30``: YAML reads the form as a
    date without any tag) or a tagged value of the wrong form (``!!int abc``). The loader's
    own error names neither line nor field."""
    build = yaml.constructor.SafeConstructor()
    bad = []
    for node, loc in _walk(root, _fields):
        if isinstance(node, yaml.ScalarNode):
            try:
                build.construct_object(node)
            except (ValueError, TypeError) as exc:
                bad.append((loc, node, str(exc)))
    return min(bad, key=lambda b: b[1].start_mark.index, default=None)


def read_yaml(
    path: str | Path, *, what: str = "study config", error: ErrorFactory = ConfigError
) -> tuple[dict[str, Any], yaml.Node]:
    """Read a YAML mapping from ``path`` within the limits above.

    Parameters
    ----------
    path : path
        The file.
    what : str
        What the file is, for messages ("study config", "sweep file", "vehicle catalogue").
    error : callable
        Builds the exception to raise from a message (e.g. ``ConfigFileError``).

    Returns
    -------
    (dict, yaml.Node)
        The parsed mapping and its composed node tree (for :func:`line_of`).
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file: give the YAML file's path")
    if path.exists() and not path.is_file():
        raise error(f"{what} {path} is not a regular file (a device or pipe): give a YAML file")
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise error(
            f"{path}: {size:,} bytes is too large for a {what} (limit {MAX_FILE_BYTES:,} bytes); "
            "is this the right file?"
        )
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(f"{path}: this {what} is saved as UTF-16; save it as UTF-8")
    if b"\x00" in raw:
        raise error(f"{path}: this is a binary file, not a YAML {what}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            f"save the {what} as UTF-8"
        ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise error(f"{path}: nested too deeply (limit {MAX_DEPTH} levels)") from None
    if root is None:
        raise error(f"{path}: the {what} is empty")
    values, depth = _measure(root)
    if depth > MAX_DEPTH:
        raise error(
            f"{path}: nested {depth if depth <= MAX_DEPTH + 1 else 'more than ' + str(MAX_DEPTH)} "
            f"levels deep (limit {MAX_DEPTH}); a {what} needs only a few levels"
        )
    if values > MAX_VALUES:
        raise error(
            f"{path}: expands to more than {MAX_VALUES:,} values through YAML anchors and aliases "
            f"(limit {MAX_VALUES:,}); write the values out or use fewer aliases"
        )
    duplicates = _duplicate_keys(root)
    if duplicates:
        lines = [
            f"{path}:{line}: {'.'.join(map(str, loc))}: duplicate key {loc[-1]!r} (first given "
            f"at line {first}); YAML keeps only the last value: remove or merge one of them"
            for loc, line, first in duplicates[:_MAX_DUPLICATES]
        ]
        head = "" if len(lines) == 1 else f"{len(duplicates)} duplicate keys in {what} {path}:\n  "
        raise error(head + "\n  ".join(lines))
    tagged = _unsupported_tag(root)
    if tagged is not None:
        loc, node = tagged
        field = ".".join(map(str, loc)) or "(top level)"
        if node.tag == "tag:yaml.org,2002:value":  # a bare "=", which YAML 1.1 reserves
            raise error(
                f"{path}:{node.start_mark.line + 1}: {field}: '=' is not a value; quote it "
                "('=') if it is meant as text"
            )
        raise error(
            f"{path}:{node.start_mark.line + 1}: {field}: YAML tags are not supported "
            f"(got {node.tag.removeprefix('tag:yaml.org,2002:')!r}); remove the tag and write "
            "the plain value (quote it if it is meant as text)"
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # e.g. !!binary that is not base64
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except (ValueError, TypeError) as exc:  # !!int abc, or an unquoted 2025-02-30
        found = _unreadable_value(root)
        if found is None:
            raise error(f"{path}: a tagged value cannot be read ({exc}); remove the tag") from None
        loc, node, why = found
        where = f"{path}:{node.start_mark.line + 1}: {'.'.join(map(str, loc)) or '(top level)'}"
        if node.tag == "tag:yaml.org,2002:timestamp":
            raise error(
                f"{where}: {node.value} is not a valid date ({why}); fix the date (YYYY-MM-DD), "
                f"or quote it ('{node.value}') if it is meant as text"
            ) from None
        raise error(f"{where}: a tagged value cannot be read ({why}); remove the tag") from None
    if not isinstance(data, dict):
        raise error(f"{path}: a {what} must be a mapping of keys to values")
    return data, root


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the YAML node at pydantic location ``loc`` (deepest found)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                hit = next((k for k, _ in node.value if k.value == key), None)
                return hit.start_mark.line + 1 if hit is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def expand_vars(
    value: Any,
    *,
    source: str = "<dict>",
    root: yaml.Node | None = None,
    error: ErrorFactory = ConfigError,
    _loc: tuple[Any, ...] = (),
) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string of ``value`` (recursively).

    Raises ``error`` naming file, line and field when a variable is unset (or empty) and
    has no default.
    """
    if isinstance(value, str):

        def one(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            got = os.environ.get(name)
            if got:
                return got
            if default is not None:
                return default
            line = line_of(root, _loc)
            where = f"{source}:{line}" if line else source
            field = ".".join(str(x) for x in _loc) or "(top level)"
            raise error(
                f"{where}: {field}: ${{{name}}} is not set and has no default; set the "
                f"environment variable {name} or write ${{{name}:-default}}"
            )

        return _VAR.sub(one, value)
    if isinstance(value, dict):
        return {
            k: expand_vars(v, source=source, root=root, error=error, _loc=(*_loc, k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            expand_vars(v, source=source, root=root, error=error, _loc=(*_loc, i))
            for i, v in enumerate(value)
        ]
    return value
