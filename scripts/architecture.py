"""mlgate's architecture, measured: the import graph of src/mlgate against its floors.

    python scripts/architecture.py            # figures and every violation; exit 1 on any
    python scripts/architecture.py --json     # the same, for machines
    python scripts/architecture.py --src DIR  # another tree (the tests use small fake ones)

The graph is read with `ast`, never by importing, so it sees what an import-time check cannot:
imports inside functions (the lazy ones that keep `mlgate --help` fast), relative imports, and
string literals that are exactly the dotted name of an mlgate module (a registry entry or an
`importlib.import_module("mlgate....")` argument: an edge the import statements do not show).

The floors are data, below. Imports may point down a floor or sideways within one, never up,
and never round in a cycle. A new top-level module or package of mlgate is on no floor until it
is placed in FLOORS: the check fails until then, so the newcomer decides where it belongs.
docs/architecture.md explains the floors; tests/unit/repo/test_architecture.py enforces them.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "mlgate"
PACKAGE = "mlgate"

FLOOR_NAMES = ("base", "concerns", "report", "ci", "stages", "pipeline", "commands", "cli")

# Every top-level module or package of mlgate, by the floor it stands on (FLOOR_NAMES[floor]).
# "mlgate" is the package's own __init__.py; a package's submodules share its floor.
FLOORS: dict[str, int] = {
    "mlgate": 0,
    "mlgate.errors": 0,
    "mlgate.safe_load": 0,
    "mlgate.tabular": 0,
    "mlgate.interface": 0,
    "mlgate.atomic": 0,
    "mlgate.redact": 0,
    "mlgate.escape": 0,
    "mlgate.manifests": 1,
    "mlgate.registry": 1,
    "mlgate.promote": 1,
    "mlgate.scan": 1,
    "mlgate.validate": 1,
    "mlgate.benchmark": 1,
    "mlgate.cluster": 1,
    "mlgate.verify": 1,
    "mlgate.serve": 1,
    "mlgate.canary": 1,
    "mlgate.audit": 1,
    "mlgate.comply": 1,
    "mlgate.report": 2,
    "mlgate.ci": 3,
    "mlgate.stages": 4,
    "mlgate.pipeline": 5,
    "mlgate.demo": 5,
    "mlgate.commands": 6,
    "mlgate.cli": 7,
    "mlgate.__main__": 7,
}

# The concern packages (floor 1) may import each other sideways, but their package-level graph
# must stay acyclic, and these may import no other concern at all.
CONCERNS = ("manifests", "registry", "promote", "scan", "validate", "benchmark", "cluster",
            "verify", "serve", "canary", "audit")
CONCERN_LEAVES = ("manifests", "registry")

MAX_LINES = 600


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    path: str  # the importing file, relative to the tree's parent (e.g. mlgate/cli.py)
    line: int
    how: str  # import | from | relative | string; "lazy " prefix when inside a function

    def describe(self, floors: dict[str, int] | None = None) -> str:
        def name(module: str) -> str:
            if floors is None:
                return module
            floor = floor_of(module, floors)
            return f"{module} [{floor} {FLOOR_NAMES[floor]}]" if floor is not None else module

        return f"{self.path}:{self.line}: {name(self.source)} -> {name(self.target)} ({self.how})"


@dataclass
class Report:
    modules: int
    edges: int
    cycles: list[list[str]] = field(default_factory=list)
    package_cycles: list[list[str]] = field(default_factory=list)
    upward: list[Edge] = field(default_factory=list)
    concern_rule: list[Edge] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    largest: tuple[str, int] = ("", 0)
    oversized: list[tuple[str, int]] = field(default_factory=list)
    cycle_edges: list[Edge] = field(default_factory=list)
    # The module-level cycles left when string edges are ignored: those the imports show.
    visible_cycles: list[list[str]] = field(default_factory=list)

    @property
    def upward_pairs(self) -> list[tuple[str, str]]:
        """The upward imports counted once per (importer, imported) module pair."""
        return sorted({(e.source, e.target) for e in self.upward})

    @property
    def ok(self) -> bool:
        return not (self.cycles or self.package_cycles or self.upward or self.concern_rule
                    or self.unplaced)


# --------------------------------------------------------------------------- the graph


def find_modules(root: Path) -> dict[str, Path]:
    """Every module under `root` (a package directory) by its dotted name."""
    package = root.name
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([package, *parts])] = path
    return modules


def top_level(module: str) -> str:
    """The unit a floor is given to: the package itself, or its first-level module/package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def floor_of(module: str, floors: dict[str, int]) -> int | None:
    return floors.get(top_level(module))


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _existing(name: str, modules: dict[str, Path]) -> str | None:
    """`name` if it is a module, else its longest prefix that is one (a.b.attr -> a.b)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, path: str, is_package: bool,
                 modules: dict[str, Path]) -> None:
        self.module, self.path, self.is_package, self.modules = module, path, is_package, modules
        self.depth = 0  # > 0 inside a function: a lazy import
        self.edges: list[Edge] = []

    def _add(self, target: str | None, node: ast.AST, how: str) -> None:
        if target is None or target == self.module:
            return
        how = f"lazy {how}" if self.depth and how != "string" else how
        self.edges.append(Edge(self.module, target, self.path, getattr(node, "lineno", 0), how))

    def _in_function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE:
                self._add(_existing(alias.name, self.modules), node, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = _resolve_relative(self.module, self.is_package, node.level, node.module)
            how = "relative"
        else:
            base = node.module or ""
            how = "from"
        if base.split(".")[0] != PACKAGE:
            return
        for alias in node.names:
            # `from mlgate import safe_load` imports the module mlgate.safe_load when there is one.
            submodule = f"{base}.{alias.name}"
            target = submodule if submodule in self.modules else _existing(base, self.modules)
            self._add(target, node, how)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value in self.modules:
            self._add(node.value, node, "string")


def import_edges(modules: dict[str, Path], root: Path) -> list[Edge]:
    edges: set[Edge] = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.relative_to(root.parent).as_posix()
        visitor = _Visitor(module, rel, path.name == "__init__.py", modules)
        visitor.visit(tree)
        edges.update(visitor.edges)
    return sorted(edges)


def strongly_connected(nodes: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of more than one node, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def concern_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in CONCERNS else None


# --------------------------------------------------------------------------- the report


def analyse(root: Path = SRC, floors: dict[str, int] = FLOORS) -> Report:
    modules = find_modules(root)
    edges = import_edges(modules, root)

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        graph[e.source].add(e.target)
    cycles = strongly_connected(list(modules), graph)
    visible: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        if e.how != "string":
            visible[e.source].add(e.target)
    in_cycle = {m: i for i, c in enumerate(cycles) for m in c}
    cycle_edges = [e for e in edges
                   if e.source in in_cycle and in_cycle[e.source] == in_cycle.get(e.target)]

    concern_graph: dict[str, set[str]] = {c: set() for c in CONCERNS}
    concern_rule: list[Edge] = []
    for e in edges:
        a, b = concern_of(e.source), concern_of(e.target)
        if a and b and a != b:
            concern_graph[a].add(b)
            if a in CONCERN_LEAVES:
                concern_rule.append(e)
    package_cycles = strongly_connected(list(CONCERNS), concern_graph)

    unplaced = sorted({top_level(m) for m in modules if floor_of(m, floors) is None})
    upward = [e for e in edges
              if (fs := floor_of(e.source, floors)) is not None
              and (ft := floor_of(e.target, floors)) is not None and fs < ft]

    sizes = sorted(((p.relative_to(root.parent).as_posix(),
                     len(p.read_text(encoding="utf-8").splitlines())) for p in modules.values()),
                   key=lambda item: (-item[1], item[0]))
    return Report(
        modules=len(modules), edges=len(edges), cycles=cycles, package_cycles=package_cycles,
        upward=upward, concern_rule=concern_rule, unplaced=unplaced,
        largest=sizes[0] if sizes else ("", 0),
        oversized=[s for s in sizes if s[1] > MAX_LINES], cycle_edges=cycle_edges,
        visible_cycles=strongly_connected(list(modules), visible),
    )


def render(report: Report, floors: dict[str, int] = FLOORS) -> str:
    lines = [f"modules: {report.modules}, import edges: {report.edges}"]
    if report.unplaced:
        lines.append(f"UNPLACED: {len(report.unplaced)} top-level module(s) on no floor; put "
                     "each in FLOORS in scripts/architecture.py (and docs/architecture.md):")
        lines += [f"  {name}" for name in report.unplaced]
    lines.append(f"import cycles: {len(report.cycles)} (module level: strongly connected "
                 f"components; {len(report.visible_cycles)} without the string edges)"
                 f" + {len(report.package_cycles)} (among the concern packages)")
    for cycle in report.cycles:
        lines.append(f"  cycle: {' <-> '.join(cycle)}")
        lines += [f"    {e.describe()}" for e in report.cycle_edges if e.source in cycle]
    for cycle in report.package_cycles:
        lines.append(f"  package cycle: {' <-> '.join(cycle)}")
    lines.append(f"largest module: {report.largest[0]} ({report.largest[1]} lines; "
                 f"{len(report.oversized)} over {MAX_LINES})")
    lines += [f"  over {MAX_LINES}: {path} ({n} lines)" for path, n in report.oversized]
    lines.append(f"upward imports: {len(report.upward_pairs)} (module pairs; "
                 f"{len(report.upward)} import statements)")
    lines += [f"  {e.describe(floors)}" for e in report.upward]
    if report.concern_rule:
        lines.append(f"concern rule ({' and '.join(CONCERN_LEAVES)} import no other concern): "
                     f"{len(report.concern_rule)}")
        lines += [f"  {e.describe()}" for e in report.concern_rule]
    return "\n".join(lines)


def as_json(report: Report) -> dict:
    data = asdict(report)
    data["largest"] = {"path": report.largest[0], "lines": report.largest[1]}
    data["oversized"] = [{"path": p, "lines": n} for p, n in report.oversized]
    data["ok"] = report.ok
    data["counts"] = {"cycles": len(report.cycles), "visible_cycles": len(report.visible_cycles),
                      "package_cycles": len(report.package_cycles),
                      "upward": len(report.upward_pairs), "upward_statements": len(report.upward),
                      "concern_rule": len(report.concern_rule),
                      "unplaced": len(report.unplaced)}
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=SRC, help="the package directory to read")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = analyse(args.src.resolve())
    if args.json:
        print(json.dumps(as_json(report), indent=2))
    else:
        print(render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
