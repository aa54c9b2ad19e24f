"""Read plain YAML, remembering the line of every value.

Only the standard scalar, sequence and mapping types are built: a tag that would construct an
object (``!!python/object``, ``!custom``) is a problem, never executed. Duplicate keys are
problems (PyYAML silently keeps the last one). ``1e-6``, which YAML 1.1 reads as a string, is read
as the number the user meant. Alias expansion is bounded so a "billion laughs" file cannot blow up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000  # values built after alias expansion

_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}

Path = tuple  # ("network", 0, "units")


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """A loaded YAML document: plain Python values plus the line (1-based) of each path."""

    file: str
    value: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.lines: dict[Path, int] = {}
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")  # only used to build plain scalars

    def problem(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, format_path(path), message))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge()
        self.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _PLAIN_TAGS:
            self.problem(node, path, f"YAML tag {node.tag!r} is not allowed: cases are plain YAML "
                                     "(numbers, strings, lists and mappings)")
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:str" and node.style is None \
                    and _FLOAT_WITHOUT_DOT.match(node.value):
                return float(node.value)
            return self.constructor.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(key_node, path, "YAML merge keys ('<<') are not supported")
                continue
            key = self.build(key_node, path + ("<key>",))
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self.problem(key_node, path, f"a mapping key must be a plain value, found {key!r}")
                continue
            if key in result:
                self.problem(key_node, path + (key,),
                             f"duplicate key {key!r} (first given on line {first_line[key]})")
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, path + (key,))
        self.lines.pop(path + ("<key>",), None)
        return result


class _TooLarge(Exception):
    pass


def load_yaml(text: str | bytes, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document. Returns the document (None when unusable) and its problems."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            return None, [Problem(file, None, "", f"file is {len(text):,} bytes; case files are "
                                  f"limited to {MAX_FILE_BYTES:,} bytes (put large data in a "
                                  ".npy or .csv file next to the case)")]
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [Problem(file, None, "", f"not UTF-8 text (byte {exc.start}: {exc.reason})")]
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, [Problem(file, line, "", f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, "", f"YAML error: {exc}")]
    if len(nodes) != 1 or nodes[0] is None:
        found = "an empty file" if not nodes or nodes[0] is None else f"{len(nodes)} documents"
        return None, [Problem(file, None, "", f"expected one YAML document (a mapping), found {found}")]
    builder = _Builder(file)
    try:
        value = builder.build(nodes[0], ())
    except _TooLarge:
        return None, [Problem(file, None, "", f"document expands to more than {MAX_NODES:,} values "
                              "(aliases nested too deep?)")]
    return Document(file, value, builder.lines), builder.problems
