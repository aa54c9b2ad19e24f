"""Read plain YAML, remembering the line of every value.

Only the standard scalar, sequence and mapping types are built: a tag that would construct an
object (``!!python/object``, ``!custom``) is a problem, never executed. Duplicate keys are
problems (PyYAML silently keeps the last one). ``1e-6``, which YAML 1.1 reads as a string, is read
as the number the user meant. Alias expansion is bounded so a "billion laughs" file cannot blow up,
and so is nesting, so neither a deep file nor an alias inside itself exhausts the stack. A value
its tag does not fit (``!!int abc``, ``!!map`` on a single value) and an integer too long for
Python to read are problems with the line, like every other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem
from .limits import DEFAULTS

MAX_FILE_BYTES = DEFAULTS.max_case_file_bytes  # raised with --limit max_case_file_bytes=N
MAX_NODES = 200_000  # values built after alias expansion
MAX_DEPTH = 32  # lists and mappings inside each other; a case needs 5
MAX_INT_DIGITS = 4_300  # Python's own limit on reading a decimal integer (sys.int_info)

_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:null": "null",
}
_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_PLAIN_TAGS = {*_SCALAR_TAGS, _SEQ, _MAP}
# the tags each kind of node may carry: (tags, the node in words, the tags as written)
_FITS = {yaml.ScalarNode: (set(_SCALAR_TAGS), "a single value",
                           "!!str, !!int, !!float, !!bool or !!null"),
         yaml.SequenceNode: ({_SEQ}, "a list", "!!seq"),
         yaml.MappingNode: ({_MAP}, "a mapping", "!!map")}

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


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:int`` as it is written, ``!!int``."""
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def quoted(text: str, limit: int = 60) -> str:
    """Text as given, quoted; a long one cut short, its length said."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text):,} characters)"


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.lines: dict[Path, int] = {}
        self.nodes = 0
        self.building: set[int] = set()  # the nodes being built: an alias to one is a cycle
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
        tags, kind, written = _FITS[type(node)]
        if node.tag not in tags:
            self.problem(node, path, f"YAML tag {short_tag(node.tag)} does not fit {kind}: "
                                     f"expected {kind} tagged {written}, or not tagged at all")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.building:
            self.problem(node, path, "an alias refers to the list or mapping that contains it; "
                                     "a case is a tree, not a cycle")
            return None
        self.building.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self.mapping(node, path)
        finally:
            self.building.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        text = node.value
        if node.tag == "tag:yaml.org,2002:str" and node.style is None \
                and _FLOAT_WITHOUT_DOT.match(text):
            return float(text)  # 1e999 is inf, which the readers refuse where it matters
        bare = text.lstrip("+-").replace("_", "")
        if node.tag == "tag:yaml.org,2002:int" and len(bare) > MAX_INT_DIGITS and \
                bare.isdigit() and not bare.startswith("0"):  # 0x…, 0b…, 0…: linear time
            self.problem(node, path, f"expected a number, found an integer of {len(bare):,} "
                                     f"digits: too long to read (Python reads at most "
                                     f"{MAX_INT_DIGITS:,} digits)")
            return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception:  # noqa: BLE001 - a scalar the tag cannot read: !!int abc, !!bool maybe
            self.problem(node, path, f"expected {_SCALAR_TAGS[node.tag]} (tagged "
                                     f"{short_tag(node.tag)}), found {quoted(text, 40)}")
            return None

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(key_node, path, "YAML merge keys ('<<') are not supported")
                continue
            known = len(self.problems)
            key = self.build(key_node, path + ("<key>",))
            if not isinstance(key, (str, int, float, bool)) or key is None:
                if len(self.problems) == known:  # else the key's own problem says why
                    found = "null" if key is None else "a list" if isinstance(key, list) else \
                        "a mapping"
                    self.problem(key_node, path, f"a mapping key must be a plain value, found "
                                                 f"{found}")
                continue
            if not isinstance(key, str):
                key = key_node.value  # a key is a name: 1, true and 0x1F stay as written
            if key in result:
                self.problem(key_node, path + (key,),
                             f"duplicate key {quoted(key)} (first given on line "
                             f"{first_line[key]})")
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, path + (key,))
        self.lines.pop(path + ("<key>",), None)
        return result


class _TooLarge(Exception):
    pass


class _TooDeep(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, composing nodes only to a bounded depth (it recurses per level)."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str | bytes, file: str,
              max_bytes: int = MAX_FILE_BYTES) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document. Returns the document (None when unusable) and its problems."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            return None, [Problem(file, None, "", f"file is over {max_bytes:,} bytes; case files "
                                  f"are limited to {max_bytes:,} bytes (put large data in a .npy "
                                  "or .csv file next to the case): the limit max_case_file_bytes; "
                                  "to allow it, raise the limit: --limit max_case_file_bytes=N")]
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            hint = " (UTF-16? save it as UTF-8)" if text[:2] in (b"\xff\xfe", b"\xfe\xff") \
                or b"\0" in text[:200] else ""
            return None, [Problem(file, None, "", f"not UTF-8 text (byte {exc.start}: "
                                  f"{exc.reason}){hint}")]
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except _TooDeep as exc:
        return None, [Problem(file, exc.line, "", f"lists and mappings nested more than "
                              f"{MAX_DEPTH} deep; a case needs a handful of levels")]
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
