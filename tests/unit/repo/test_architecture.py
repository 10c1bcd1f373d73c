"""The floors hold: src/mlgate's imports point down or sideways, never up, and never in a cycle
(imports inside functions and module names in strings included); the concern packages form no
cycle among themselves; no module grows past 600 lines; every top-level module has a floor.

scripts/architecture.py reads the graph with `ast` and holds the floor map; docs/architecture.md
explains it. The second half builds small fake trees and checks that each kind of violation is
reported, so the first half cannot pass because the checker stopped seeing anything.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "architecture.py"


def _load():
    spec = importlib.util.spec_from_file_location("mlgate_architecture", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


arch = _load()
FIX = "see docs/architecture.md; `python scripts/architecture.py` lists every violation"


@pytest.fixture(scope="module")
def report():
    return arch.analyse(REPO / "src" / "mlgate")


def test_every_top_level_module_is_on_a_floor(report) -> None:
    assert report.unplaced == [], (
        f"not on any floor: {report.unplaced}; place each in FLOORS in scripts/architecture.py "
        "and in docs/architecture.md"
    )


def test_no_module_level_import_cycle(report) -> None:
    cycles = [" <-> ".join(c) for c in report.cycles]
    edges = [e.describe() for e in report.cycle_edges]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles + edges) + f"\n{FIX}"


def test_no_cycle_among_the_concern_packages(report) -> None:
    cycles = [" <-> ".join(c) for c in report.package_cycles]
    assert cycles == [], f"package-level cycles among the concerns: {cycles}; {FIX}"


def test_manifests_and_registry_import_no_other_concern(report) -> None:
    edges = [e.describe() for e in report.concern_rule]
    assert edges == [], "\n".join(edges) + f"\n{FIX}"


def test_no_upward_import(report) -> None:
    edges = [e.describe(arch.FLOORS) for e in report.upward]
    assert edges == [], "imports that go up a floor:\n" + "\n".join(edges) + f"\n{FIX}"


def test_no_module_over_600_lines(report) -> None:
    assert arch.MAX_LINES == 600
    assert report.oversized == [], f"modules over 600 lines (split them): {report.oversized}"


def test_the_floor_map_is_what_the_docs_show() -> None:
    """Every top-level unit the map places is named on the architecture page."""
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for name in arch.FLOORS if f"`{name}`" not in page
               and f"`{name.removeprefix('mlgate.')}`" not in page]
    assert missing == [], f"docs/architecture.md does not name {missing}"


# --------------------------------------------------------------------------- the checker


def _tree(root: Path, files: dict[str, str]) -> Path:
    """A fake mlgate package under root: {relative path: source}; __init__.py files added."""
    package = root / "mlgate"
    for rel, source in {"__init__.py": "", **files}.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(package).parents:
            init = package / parent / "__init__.py"
            if not init.exists():
                init.write_text("", encoding="utf-8")
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return package


def test_a_clean_tree_passes(tmp_path: Path, capsys) -> None:
    package = _tree(tmp_path, {
        "errors.py": "class MlgateError(Exception): ...\n",
        "scan/run.py": "from mlgate.errors import MlgateError\n",
        "report/scan.py": "from mlgate.scan import run\nfrom mlgate.errors import MlgateError\n",
        "cli.py": 'COMMANDS = {"scan": "mlgate.report.scan"}\n',
    })
    report = arch.analyse(package)
    assert report.ok, arch.render(report)
    assert report.edges == 4  # scan/run -> errors, report/scan -> scan.run and errors, cli's string
    assert arch.main(["--src", str(package)]) == 0
    assert "import cycles: 0" in capsys.readouterr().out


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "scan/run.py": "from mlgate.scan.parse import parse\n",
        "scan/parse.py": """
            def parse():
                from mlgate.scan import run  # lazy: only a static read sees it
                return run
        """,
    })
    report = arch.analyse(package)
    assert report.cycles == [["mlgate.scan.parse", "mlgate.scan.run"]]
    assert any(e.how == "lazy from" and e.source == "mlgate.scan.parse"
               for e in report.cycle_edges)
    assert not report.ok
    assert arch.main(["--src", str(package)]) == 1


def test_a_cycle_through_an_importlib_string_is_found(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "cli.py": """
            import importlib

            COMMANDS = {"scan": "mlgate.commands.scan"}

            def command(name):
                return importlib.import_module(COMMANDS[name])
        """,
        "commands/scan.py": """
            def run():
                from mlgate.cli import command
                return command
        """,
    })
    report = arch.analyse(package)
    assert report.cycles == [["mlgate.cli", "mlgate.commands.scan"]]
    assert report.visible_cycles == []  # the string is the only way back
    assert ("mlgate.cli", "mlgate.commands.scan") in {
        (e.source, e.target) for e in report.cycle_edges if e.how == "string"}


def test_a_package_cycle_among_the_concerns_is_found(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "promote/landing.py": "from mlgate.registry.alias import move\n",
        "registry/sync.py": "from mlgate.promote.git import clone\n",
        "registry/alias.py": "def move(): ...\n",
        "promote/git.py": "def clone(): ...\n",
    })
    report = arch.analyse(package)
    assert report.cycles == []  # no module cycle: the packages' graph has one
    assert report.package_cycles == [["promote", "registry"]]
    assert [(e.source, e.target) for e in report.concern_rule] == [
        ("mlgate.registry.sync", "mlgate.promote.git")]
    assert not report.ok


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "ci/base.py": "def write_atomic(): ...\n",
        "scan/reports.py": """
            def write():
                from mlgate.ci.base import write_atomic
                write_atomic()
        """,
        "errors.py": "import mlgate.report.markdown\n",
        "report/markdown.py": "",
    })
    report = arch.analyse(package)
    assert report.upward_pairs == [("mlgate.errors", "mlgate.report.markdown"),
                                   ("mlgate.scan.reports", "mlgate.ci.base")]
    text = arch.render(report)
    assert "upward imports: 2" in text
    assert ("mlgate/scan/reports.py:3: mlgate.scan.reports [1 concerns] -> "
            "mlgate.ci.base [3 ci] (lazy from)") in text


def test_relative_and_package_imports_resolve_to_modules(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "safe_load.py": "",
        "errors.py": "from mlgate import safe_load\nfrom mlgate import __version__\n",
        "promote/git.py": "from . import types\nfrom .types import Identity\n",
        "promote/types.py": "from ..report import presentation\n",
        "report/presentation.py": "",
    })
    edges = {(e.source, e.target, e.how) for e in arch.import_edges(
        arch.find_modules(package), package)}
    assert edges == {
        ("mlgate.errors", "mlgate.safe_load", "from"),
        ("mlgate.errors", "mlgate", "from"),
        ("mlgate.promote.git", "mlgate.promote.types", "relative"),
        ("mlgate.promote.types", "mlgate.report.presentation", "relative"),
    }
    assert [(e.source, e.target) for e in arch.analyse(package).upward] == [
        ("mlgate.promote.types", "mlgate.report.presentation")]


@pytest.mark.parametrize("new", ["newthing.py", "newpkg/__init__.py", "newpkg/inner.py"])
def test_a_module_on_no_floor_fails_loudly(tmp_path: Path, capsys, new: str) -> None:
    package = _tree(tmp_path, {new: ""})
    report = arch.analyse(package)
    name = "mlgate." + new.split("/")[0].removesuffix(".py")
    assert report.unplaced == [name]
    assert arch.main(["--src", str(package)]) == 1
    out = capsys.readouterr().out
    assert "UNPLACED" in out and f"  {name}\n" in out


def test_a_module_over_600_lines_is_found(tmp_path: Path) -> None:
    package = _tree(tmp_path, {"tabular.py": "x = 1\n" * 601, "errors.py": "x = 1\n" * 600})
    report = arch.analyse(package)
    assert report.largest == ("mlgate/tabular.py", 601)
    assert report.oversized == [("mlgate/tabular.py", 601)]


def test_json_output(tmp_path: Path, capsys) -> None:
    import json

    package = _tree(tmp_path, {"errors.py": "import mlgate.cli\n", "cli.py": ""})
    assert arch.main(["--src", str(package), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["counts"]["upward"] == 1 and data["counts"]["cycles"] == 0
    assert data["upward"][0]["source"] == "mlgate.errors"


# The emitters print; the CLI prints only "aborted" on Ctrl-C (before any emitter exists).
PRINTERS = {"print", "echo", "secho", "write"}
MAY_PRINT = ("mlgate/ci/", "mlgate/cli.py")


def _printing_calls(path: Path) -> list[int]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    # a module's `if __name__ == "__main__":` block is a developer's generator, not mlgate
    main_blocks = [range(n.lineno, (n.end_lineno or n.lineno) + 1) for n in tree.body
                   if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(node.lineno in r for r in main_blocks):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            lines.append(node.lineno)
        elif isinstance(func, ast.Attribute) and func.attr in PRINTERS:
            owner = ast.unparse(func.value)
            if owner in ("click", "sys.stdout", "sys.stderr"):
                lines.append(node.lineno)
    return lines


def test_only_the_emitters_print() -> None:
    """All terminal output goes through mlgate.ci (secrets hidden, control characters made
    visible, workflow commands neutralised): a stage or a concern reports progress through the
    `progress` function it is given, never by printing."""
    src = REPO / "src"
    found = [f"{p.relative_to(src)}:{line}" for p in sorted((src / "mlgate").rglob("*.py"))
             if not str(p.relative_to(src)).startswith(MAY_PRINT)
             for line in _printing_calls(p)]
    assert not found, f"printing outside the emitters: {found}"


def test_the_printing_check_sees_a_print(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("import click, sys\nprint('x')\nclick.echo('y')\nsys.stderr.write('z')\n"
                    "if __name__ == '__main__':\n    print('generator')\n")
    assert _printing_calls(path) == [2, 3, 4]
