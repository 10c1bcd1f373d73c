"""Every YAML or JSON file mlgate reads goes through `mlgate.safe_load`, with the same limits.

Written as the attack: a billion-laughs bomb, an over-size file, nesting far too deep (deep
enough to crash libyaml's C composer, not only Python's recursion limit) and invalid UTF-8,
each through the real command that reads it. Every one must end in exit 2 within seconds, one
line naming the option and the file, no traceback, and nothing written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.configrepo import example_remote, git

from mlgate import safe_load
from mlgate.cli import main
from mlgate.errors import BadInput

SRC = Path(__file__).resolve().parents[2] / "src" / "mlgate"

# A raw reader outside safe_load is allowed only for text mlgate itself produced or ships.
ALLOWED = {
    # mlgate's own JSON Schema, shipped in the package: not user input
    ("pipeline/schema.py", "json.loads("),
    # the request comply's parent process writes to its Rego child (the child's answer, which
    # holds the policies' values, is read through safe_load)
    ("comply/rego_worker.py", "json.loads("),
    # composes manifests itself (node offsets for in-place edits) after the shared
    # check_yaml_depth; key_value() loads one plain scalar key, never a collection
    ("manifests/yamldoc.py", "yaml.compose_all("),
    ("manifests/yamldoc.py", "yaml.load("),
    # re-reads the text mlgate just produced from a file yamldoc already checked (same depth,
    # no new aliases), to verify the rewrite changed only the target values
    ("manifests/verify.py", "yaml.compose_all("),
}
RAW = re.compile(r"\byaml\.(safe_load|load|full_load|unsafe_load|compose|compose_all|parse"
                 r"|load_all|safe_load_all)\(|\bjson\.loads?\(|JSONDecoder\b"
                 # an HTTP client's shortcut (requests, httpx) is json.loads by another name
                 r"|\.json\(\)")


def bomb_yaml(levels: int = 9) -> str:
    """~9^levels nodes when expanded, a few hundred bytes on disk."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + f"\nmeta: {{x: *a{levels - 1}}}\n"


DEEP = 200_000   # far past any limit: libyaml's composer segfaults on this without the check
ATTACKS = {
    "bomb": lambda: bomb_yaml().encode(),
    "deep": lambda: ("x: " + "[" * DEEP + "]" * DEEP + "\n").encode(),
    "huge": lambda: b"x: " + b"a" * (safe_load.MAX_BYTES + 10) + b"\n",
    "utf8": lambda: b"name: x\nexpectations:\n  - expectation: \xff\xfe\n",
}
JSON_ATTACKS = {
    "deep": lambda: ("[" * DEEP + "]" * DEEP).encode(),
    "huge": lambda: b'{"command": "' + b"a" * (6 * 1024 * 1024) + b'"}',
    "utf8": lambda: b'{"command": "\xff"}',
    "nan": lambda: b'{"command": "benchmark", "verdict": NaN}',
}
NEEDLE = {"bomb": "alias bomb", "deep": "nested more than", "huge": "size limit",
          "utf8": "not UTF-8", "nan": "NaN is not JSON"}


def one_line(capsys, code: int, needle: str, name: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0] and name in lines[0], lines[0]
    return lines[0]


# --- no reader forgets -------------------------------------------------------------------------


def test_no_yaml_or_json_reader_outside_the_loader() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "safe_load.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for m in RAW.finditer(code):
                if (rel, m.group(0)) not in ALLOWED:
                    found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, ("read YAML/JSON through mlgate.safe_load (size, depth and alias "
                       "limits), or add a justified ALLOWED entry:\n" + "\n".join(found))


# --- the loader itself -----------------------------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text, needle", [
    (bomb_yaml(), ":5: YAML aliases expand"),
    ("[" * DEEP + "]" * DEEP, ":1: nested more than 100 levels"),
    ("- " * DEEP + "x", ":1: nested more than 100 levels"),
    ("a: &a [*a]\n", "recursive YAML alias"),
    ("a: 1\nb: [\n", ":3: invalid YAML"),
    ("x: " + "1" * 5000, "invalid YAML value"),
])
def test_yaml_limits(text: str, needle: str) -> None:
    with pytest.raises(BadInput, match=re.escape(f"--opt f.yaml{needle}") if needle[0] == ":"
                       else re.escape(needle)):
        safe_load.parse_yaml(text, "--opt f.yaml")


@pytest.mark.parametrize("text, needle", [
    ("[" * DEEP + "]" * DEEP, "nested more than 100"),
    ("[" * 150 + "]" * 150, "nested more than 100"),     # under Python's limit, over ours
    ('{"a": Infinity}', "Infinity is not JSON"),
    ('{"a": 1e999}', "out of range"),
    ("1" * 5000, "4300 digits"),
    ('{"a":\n x}', ":2: invalid JSON"),
])
def test_json_limits(text: str, needle: str) -> None:
    with pytest.raises(BadInput, match=re.escape(needle)):
        safe_load.parse_json(text, "--opt f.json")


def test_ordinary_files_load_and_a_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: &x [1, 2]\nb: *x\nc: {d: 1.5}\n")
    assert safe_load.load_yaml(str(path), "--f") == {"a": [1, 2], "b": [1, 2], "c": {"d": 1.5}}
    path.write_bytes(b'\xef\xbb\xbf{"a": [1, {"b": null}]}')
    assert safe_load.load_json(str(path), "--f") == {"a": [1, {"b": None}]}
    assert safe_load.parse_yaml("", "--f") is None


def test_over_size_reads_at_most_limit_plus_one(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    with pytest.raises(BadInput, match="--x big.json: over the 100 bytes size limit"):
        safe_load.read_bytes(str(path), "--x big.json", limit=100)
    assert safe_load.read_bytes(str(path), "--x", limit=101) == b" " * 101


def test_manifests_too_deep_are_exit_2_not_a_crash() -> None:
    from mlgate.manifests.yamldoc import compose

    with pytest.raises(BadInput, match="nested more than"):
        compose("- " * DEEP + "x\n", "apps/x.yaml")


# --- through each command --------------------------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_validate_suite(tmp_path: Path, capsys, attack: str) -> None:
    from support.validatedata import customers

    data = tmp_path / "data.csv"
    customers().to_csv(data, index=False)
    suite = tmp_path / "suite.yaml"
    suite.write_bytes(ATTACKS[attack]())
    out, junit = tmp_path / "r.json", tmp_path / "junit.xml"
    code = main(["validate", "--data", str(data), "--suite", str(suite), "--json", str(out),
                 "--junit", str(junit)], environ={"PATH": "/usr/bin:/bin",
                                                  "HOME": str(tmp_path)})
    line = one_line(capsys, code, NEEDLE[attack], f"--suite {suite}")
    assert not junit.exists(), line
    # the --json error report is the documented exception: it records the exit 2
    assert not out.exists() or json.loads(out.read_text())["exit_code"] == 2


@pytest.mark.timeout(20)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_scan_ignore_file(tmp_path: Path, capsys, attack: str) -> None:
    target = tmp_path / "image.tar"
    target.write_bytes(b"not read: the ignore file is refused first")
    ignore = tmp_path / ".trivyignore.yaml"
    ignore.write_bytes(ATTACKS[attack]())
    sarif = tmp_path / "scan.sarif"
    code = main(["scan", "--input", str(target), "--ignore-file", str(ignore),
                 "--trivy", "/nonexistent/trivy", "--sarif", str(sarif)],
                environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    one_line(capsys, code, NEEDLE[attack], f"--ignore-file {ignore}")
    assert not sarif.exists()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_pipeline_config(tmp_path: Path, capsys, attack: str) -> None:
    config = tmp_path / "mlgate.yaml"
    config.write_bytes(ATTACKS[attack]())
    reports = tmp_path / "reports"
    code = main(["pipeline", "--config", str(config), "--reports-dir", str(reports)],
                environ={"MLGATE_CI": "local", "PATH": "/usr/bin:/bin"})
    # mlgate.yaml's own limit is 1 MiB, so the 10 MiB attack says the same with its limit
    one_line(capsys, code, NEEDLE[attack], f"--config {config}")
    assert not reports.exists()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("attack", sorted(JSON_ATTACKS))
def test_promote_evidence(tmp_path: Path, capsys, attack: str) -> None:
    remote = example_remote(tmp_path)
    before = git(remote, "for-each-ref")
    evidence = tmp_path / "benchmark.json"
    evidence.write_bytes(JSON_ATTACKS[attack]())
    code = main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", "registry.example.com/ml/churn:v1.5.0",
                 "--evidence", str(evidence)], environ={"PATH": "/usr/bin:/bin"})
    one_line(capsys, code, NEEDLE[attack], f"--evidence {evidence}")
    assert git(remote, "for-each-ref") == before


@pytest.mark.timeout(60)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_benchmark_mlmodel(tmp_path: Path, capsys, attack: str) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_bytes(ATTACKS[attack]())
    data = tmp_path / "data.csv"
    data.write_text("x,label\n1,0\n")
    report = tmp_path / "report.md"
    code = main(["benchmark", "--candidate", str(model), "--data", str(data), "--target",
                 "label", "--report", str(report)], environ={"PATH": "/usr/bin:/bin"})
    one_line(capsys, code, NEEDLE[attack], f"--candidate {model}/MLmodel")
    assert not report.exists()


def test_compose_yaml_keeps_aliases_unexpanded_and_refuses_depth_and_bad_yaml() -> None:
    nodes = safe_load.compose_yaml(bomb_yaml(), "bomb.yaml")
    assert len(nodes) == 1   # composed in a moment: each alias is one node
    with pytest.raises(BadInput, match="deep.yaml"):
        safe_load.compose_yaml("x: " + "[" * DEEP + "]" * DEEP + "\n", "deep.yaml")
    with pytest.raises(BadInput, match="bad.yaml: invalid YAML"):
        safe_load.compose_yaml("kind: [x\n", "bad.yaml")
