"""The package's layout, read from its source with ``ast`` (nothing of harness is imported).

harness/ is built in layers, each importing only itself and the layers below it:

    format < adapters < verdicts < oracles < running < reports < tools < front ends

(the front ends are the modules at the top of harness/: cli, plugin, __main__, __init__).
Checked here: the layers point one way, no module imports its way back to itself (imports
inside functions count), no module reaches into another's private (underscore) names, every
import of a harness name finds it, no module is longer than MAX_LINES, and docs/layout.md
lists exactly the modules and folders there are, layer by layer.

``python tests/test_layout.py`` prints every finding (``--graph`` adds each module's imports).
"""
from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harness"
LAYOUT_PAGE = ROOT / "docs" / "layout.md"
MAX_LINES = 400

# Bottom to top. A module's layer is its folder under harness/; the modules at the top of
# harness/ are the front ends, above every layer.
LAYERS = ("format", "adapters", "verdicts", "oracles", "running", "reports", "tools")
FRONT_ENDS = ("cli", "plugin", "run_command", "__main__", "fuzz_command", "known_command",
              "plugin_known", "merge_command")
FRONT_END_LAYER = "front ends"
RANKS = {name: i for i, name in enumerate((*LAYERS, FRONT_END_LAYER))}


# --- the module graph -------------------------------------------------------------------------

@dataclass
class Import:
    """One edge of the graph: ``source`` imports ``target`` at ``line``."""
    source: str
    target: str
    line: int

    def where(self, graph: "Graph") -> str:
        return f"{graph.modules[self.source].relative}:{self.line}"


@dataclass
class Module:
    name: str                   # harness.format.case; a package is named by its folder
    relative: str               # harness/format/case.py
    tree: ast.Module
    lines: int
    is_package: bool
    defined: set[str] = field(default_factory=set)    # top-level names

    @property
    def layer(self) -> str | None:
        parts = self.name.split(".")
        if len(parts) == 1:  # harness/__init__.py: the version alone, importing nothing, so
            return LAYERS[0]  # every layer may read it
        if len(parts) == 2 and not self.is_package and parts[1] in FRONT_ENDS:
            return FRONT_END_LAYER
        return parts[1] if parts[1] in LAYERS else None


@dataclass
class Finding:
    where: str                  # file:line
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module defines at its top level (inside top-level if/try/with blocks too)."""
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    targets(target)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    names.add(alias.asname or alias.name)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for part in ("body", "orelse", "finalbody"):
                    visit(getattr(node, part, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
    visit(tree.body)
    return names


class Graph:
    """Every module of harness/ and the imports between them, found with ``ast``."""

    def __init__(self, package: Path = PACKAGE) -> None:
        self.modules: dict[str, Module] = {}
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(package.parent).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(path))
            relative = path.relative_to(package.parent).as_posix()
            self.modules[name] = Module(name, relative, tree, len(text.splitlines()), is_package,
                                        _top_level_names(tree))
        self.imports: list[Import] = []
        self.private: list[Finding] = []       # a private name of another module used
        self.unresolved: list[Finding] = []    # an import of a harness name that is not there
        for module in self.modules.values():
            self._read(module)

    # -- reading one module's imports

    def _absolute(self, module: Module, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = module.name.split(".")
        if not module.is_package:
            package = package[:-1]
        package = package[:len(package) - (node.level - 1)]
        return ".".join([*package, *([node.module] if node.module else [])])

    def _read(self, module: Module) -> None:
        # name -> [(line, harness module)] per scope (the module, each function and class): an
        # attribute is looked up in its innermost scope that imported the name before it
        bound: dict[int, dict[str, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
        uses: list[tuple[tuple[int, ...], ast.Attribute]] = []

        def edge(target: str, line: int) -> None:
            if target != module.name:
                self.imports.append(Import(module.name, target, line))

        def missing(line: int, what: str) -> None:
            self.unresolved.append(Finding(f"{module.relative}:{line}", what))

        def bind(scopes: tuple[int, ...], name: str, target: str, line: int) -> None:
            bound[scopes[-1]][name].append((line, target))

        def read_import(node: ast.Import, scopes: tuple[int, ...]) -> None:
            for alias in node.names:
                if alias.name.split(".")[0] != "harness":
                    continue
                if alias.name not in self.modules:
                    missing(node.lineno, f"import {alias.name}: no such module")
                    continue
                edge(alias.name, node.lineno)
                if alias.asname:
                    bind(scopes, alias.asname, alias.name, node.lineno)
                else:
                    bind(scopes, "harness", "harness", node.lineno)

        def read_import_from(node: ast.ImportFrom, scopes: tuple[int, ...]) -> None:
            base = self._absolute(module, node)
            if base.split(".")[0] != "harness":
                return
            if base not in self.modules:
                missing(node.lineno, f"from {base} import …: no such module")
                return
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in self.modules:          # from package import module
                    edge(submodule, node.lineno)
                    bind(scopes, alias.asname or alias.name, submodule, node.lineno)
                elif alias.name != "*" and alias.name not in self.modules[base].defined:
                    missing(node.lineno, f"from {base} import {alias.name}: "
                                         f"{self.modules[base].relative} has no {alias.name}")
                else:
                    edge(base, node.lineno)
                    if _is_private(alias.name) and base != module.name:
                        self.private.append(Finding(
                            f"{module.relative}:{node.lineno}",
                            f"imports {alias.name}, private to {self.modules[base].relative}"))

        def visit(node: ast.AST, scopes: tuple[int, ...]) -> None:
            if isinstance(node, ast.Import):
                read_import(node, scopes)
            elif isinstance(node, ast.ImportFrom):
                read_import_from(node, scopes)
            elif isinstance(node, ast.Attribute):
                uses.append((scopes, node))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                scopes = (*scopes, id(node))
            for child in ast.iter_child_nodes(node):
                visit(child, scopes)

        def lookup(name: str, scopes: tuple[int, ...], line: int) -> str | None:
            for scope in reversed(scopes):
                before = [b for b in bound[scope].get(name, []) if b[0] <= line]
                if before:
                    return max(before)[1]
            return None

        visit(module.tree, (id(module.tree),))

        # module._name: a private attribute of a harness module named through an import
        for scopes, node in uses:
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if not isinstance(value, ast.Name):
                continue
            target = lookup(value.id, scopes, node.lineno)
            if target is None:
                continue
            attrs = list(reversed(chain))
            while attrs and f"{target}.{attrs[0]}" in self.modules:
                target = f"{target}.{attrs.pop(0)}"
            if len(attrs) == 1 and _is_private(attrs[0]) and target != module.name:
                self.private.append(Finding(
                    f"{module.relative}:{node.lineno}",
                    f"uses {value.id}.{'.'.join(reversed(chain))}: "
                    f"{attrs[0]} is private to {self.modules[target].relative}"))

    # -- questions

    def edges(self) -> dict[str, dict[str, int]]:
        """source -> target -> the first line importing it."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for i in self.imports:
            out[i.source].setdefault(i.target, i.line)
        return out

    def back_arrows(self) -> list[Finding]:
        """Every import of a higher layer, and every module in no layer."""
        found = []
        for module in self.modules.values():
            if module.layer is None:
                found.append(Finding(module.relative,
                                     f"in no layer: harness/ holds the layers {', '.join(LAYERS)}"
                                     f" as folders, and at its top only {', '.join(FRONT_ENDS)}"))
        unique = {(i.source, i.target, i.line): i for i in self.imports}.values()
        for i in sorted(unique, key=lambda i: (self.modules[i.source].relative, i.line, i.target)):
            source, target = self.modules[i.source], self.modules[i.target]
            if source.layer is None or target.layer is None:
                continue
            if RANKS[target.layer] > RANKS[source.layer]:
                found.append(Finding(i.where(self), f"{source.layer} imports {target.name} "
                                                    f"({target.layer}, a higher layer)"))
        return found

    def cycles(self) -> list[list[str]]:
        """The strongly connected components of more than one module (Tarjan's algorithm)."""
        edges = self.edges()
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        components: list[list[str]] = []

        def connect(v: str) -> None:       # recursion depth is bounded by the module count
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(edges.get(v, {})):
                if w not in index:
                    connect(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

        for v in sorted(self.modules):
            if v not in index:
                connect(v)
        return sorted(components)

    def shortest_cycle(self, component: list[str]) -> list[str]:
        """A shortest cycle through the component's first module, as a list of modules."""
        edges, members, start = self.edges(), set(component), component[0]
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier:
            following = []
            for v in frontier:
                for w in sorted(edges.get(v, {})):
                    if w not in members:
                        continue
                    if w == start:
                        path = [v]
                        while path[-1] != start:
                            path.append(previous[path[-1]])
                        return [*reversed(path), start]
                    if w not in previous:
                        previous[w] = v
                        following.append(w)
            frontier = following
        return [start, start]

    def cycle_findings(self) -> list[Finding]:
        edges, found = self.edges(), []
        for component in self.cycles():
            cycle = self.shortest_cycle(component)
            steps = " -> ".join(
                f"{a} ({self.modules[a].relative}:{edges[a][b]})" for a, b in zip(cycle, cycle[1:]))
            inside = [f"{self.modules[a].relative}:{line} -> {b}"
                      for a in component for b, line in sorted(edges.get(a, {}).items())
                      if b in component]
            found.append(Finding(
                self.modules[component[0]].relative,
                f"import cycle among {len(component)} modules: {steps} -> {cycle[-1]}\n"
                f"    its imports: " + "\n                 ".join(inside)))
        return found

    def long_files(self) -> list[Finding]:
        return [Finding(m.relative, f"{m.lines} lines, over {MAX_LINES}")
                for m in sorted(self.modules.values(), key=lambda m: m.relative)
                if m.lines > MAX_LINES]


# --- docs/layout.md ---------------------------------------------------------------------------
# The page lists paths in its ```text blocks: a line that starts at the left margin is
# `PATH  description` (a folder's PATH ends in /), an indented line continues the description.
# Every .py file and every folder of harness/ is listed once, nothing that does not exist is,
# and harness/'s paths are listed layer by layer, bottom up (the front ends last).

_TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```[ \t]*$", re.S | re.M)


def layout_paths(text: str) -> list[tuple[int, str]]:
    """(line number in the page, path) for every path listed in the page's text blocks."""
    listed = []
    for block in _TEXT_BLOCK.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        for offset, line in enumerate(block.group(1).splitlines()):
            if line and not line[0].isspace():
                listed.append((first + offset, line.split()[0]))
    return listed


def package_paths(package: Path = PACKAGE) -> set[str]:
    """Every .py file and every folder holding one, under harness/ (harness/ itself included)."""
    paths = set()
    for path in package.rglob("*.py"):
        paths.add(path.relative_to(ROOT).as_posix())
        for folder in path.relative_to(ROOT).parents:
            if folder != Path("."):
                paths.add(folder.as_posix() + "/")
    return paths


def _rank(path: str) -> int:
    parts = path.rstrip("/").split("/")
    if len(parts) >= 2 and parts[1] in LAYERS and (len(parts) > 2 or path.endswith("/")):
        return RANKS[parts[1]]
    return RANKS[FRONT_END_LAYER]


def layout_findings(page: Path = LAYOUT_PAGE) -> list[Finding]:
    text = page.read_text(encoding="utf-8")
    where = page.relative_to(ROOT).as_posix()
    listed = layout_paths(text)
    found = []
    if not listed:
        return [Finding(where, "lists no paths: its ```text blocks hold one `PATH  description` "
                               "line per module and folder")]
    seen: dict[str, int] = {}
    for line, path in listed:
        if path in seen:
            found.append(Finding(f"{where}:{line}", f"{path} listed again (line {seen[path]})"))
        seen.setdefault(path, line)
    actual = package_paths()
    for line, path in listed:
        if path.startswith("harness/"):
            if path not in actual:
                found.append(Finding(f"{where}:{line}", f"{path}: no such module or folder"))
        elif not (ROOT / path).exists() or path.endswith("/") != (ROOT / path).is_dir():
            found.append(Finding(f"{where}:{line}", f"{path}: no such file or folder"))
    for path in sorted(actual - set(seen)):
        found.append(Finding(where, f"does not list {path}"))
    highest = None
    for line, path in listed:
        if not path.startswith("harness/") or path not in actual:
            continue
        if highest is not None and _rank(path) < RANKS[highest]:
            found.append(Finding(f"{where}:{line}", f"{path} listed after {highest}: the page "
                                 f"goes layer by layer, {' < '.join(RANKS)}"))
        if highest is None or _rank(path) > RANKS[highest]:
            highest = (*LAYERS, FRONT_END_LAYER)[_rank(path)]
    return found


# --- the tests --------------------------------------------------------------------------------

_GRAPH: Graph | None = None


def graph() -> Graph:
    global _GRAPH
    if _GRAPH is None:
        _GRAPH = Graph()
    return _GRAPH


def _report(title: str, findings: list[Finding]) -> str:
    return f"{title} ({len(findings)}):\n" + "\n".join(f"  {f}" for f in findings)


def test_the_graph_is_read_whole():
    """The checks below see real imports: the package's modules are found and import each other."""
    g = graph()
    assert {"harness", "harness.cli", "harness.format.case", "harness.running.runner"} \
        <= set(g.modules)
    assert ("harness.cli", "harness.format.loader") in {(i.source, i.target) for i in g.imports}


def test_the_checks_find_what_they_look_for(tmp_path):
    """A made-up package with one of each mistake: the checks above would say nothing if they
    could not see these."""
    files = {
        "__init__.py": "__version__ = '1'\n",
        "cli.py": "from .running import runner\n",
        "plugin.py": "",
        "format/__init__.py": "",
        "format/case.py": "def f():\n    from ..running.devices import split\n",
        "running/__init__.py": "",
        "running/devices.py": ("from ..format import case\n"
                               "from .. import __version__, plugin, missing\n"
                               "def split(): return case._private\n"),
        "running/runner.py": ("import harness.format.case\n"
                              "from ..format.case import _helper\n"
                              "def g():\n    return harness.format.case._other\n"),
    }
    for name, text in files.items():
        (tmp_path / "harness" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "harness" / name).write_text(text, encoding="utf-8")
    g = Graph(tmp_path / "harness")
    assert [str(f) for f in g.back_arrows()] == [
        "harness/format/case.py:2: format imports harness.running.devices "
        "(running, a higher layer)",
        "harness/running/devices.py:2: running imports harness.plugin (front ends, a higher layer)"]
    assert g.cycles() == [["harness.format.case", "harness.running.devices"]]
    assert [str(f) for f in g.unresolved] == [
        "harness/running/devices.py:2: from harness import missing: harness/__init__.py has no "
        "missing",
        "harness/running/runner.py:2: from harness.format.case import _helper: "
        "harness/format/case.py has no _helper"]
    assert sorted(f.what for f in g.private) == [
        "uses case._private: _private is private to harness/format/case.py",
        "uses harness.format.case._other: _other is private to harness/format/case.py"]


def test_every_harness_import_finds_what_it_names():
    found = graph().unresolved
    assert not found, _report("imports of harness names that are not there", found)


def test_the_layers_point_one_way():
    found = graph().back_arrows()
    assert not found, _report(f"imports against the layers ({' < '.join(RANKS)})", found)


def test_no_import_cycles():
    found = graph().cycle_findings()
    assert not found, _report("import cycles (imports inside functions included)", found)


def test_no_module_uses_another_modules_private_names():
    found = graph().private
    assert not found, _report("private names used outside their module", found)


def test_no_module_is_too_long():
    found = graph().long_files()
    assert not found, _report(f"modules over {MAX_LINES} lines: split them", found)


def test_the_layout_page_lists_every_module_and_folder():
    found = layout_findings()
    assert not found, _report("docs/layout.md and harness/ differ", found)


# --- python tests/test_layout.py ----------------------------------------------------------------

def main(argv: list[str]) -> int:
    g = graph()
    sections = [
        (f"imports against the layers ({' < '.join(RANKS)})", g.back_arrows()),
        ("import cycles (imports inside functions included)", g.cycle_findings()),
        ("private names used outside their module", g.private),
        ("imports of harness names that are not there", g.unresolved),
        (f"modules over {MAX_LINES} lines", g.long_files()),
        ("docs/layout.md and harness/ differ", layout_findings()),
    ]
    if "--graph" in argv:
        edges = g.edges()
        for name in sorted(g.modules, key=lambda n: (RANKS.get(g.modules[n].layer, -1), n)):
            m = g.modules[name]
            print(f"{m.relative} [{m.layer}]")
            for target, line in sorted(edges.get(name, {}).items()):
                print(f"    {line:>4}  {target} [{g.modules[target].layer}]")
        print()
    total = 0
    for title, findings in sections:
        total += len(findings)
        print(_report(title, findings) if findings else f"{title}: none")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
