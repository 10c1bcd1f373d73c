#!/usr/bin/env python3
"""Mutation score of one or more mlgate modules: mutmut over the module, run against the unit
tests that cover it, with the mutants judged equivalent left out of the score.

Why: a line-coverage figure says a test ran a line, not that it would notice the line being
wrong. The modules that decide a verdict or write to git are held to a mutation score of at
least 90 %: a surviving mutant is a behaviour no test pins down.

    .venv/bin/python scripts/mutation.py manifests/reference.py manifests/writer.py
    .venv/bin/python scripts/mutation.py promote/promote.py --show      # diffs of survivors
    .venv/bin/python scripts/mutation.py scan/policy.py --tests tests/unit/scan/test_policy.py

mutmut runs in a temporary copy of src/ and tests/, so the checkout is never touched. The
mutants judged equivalent (no test could tell them apart from the original: a changed loop
bound that is never reached, a log text nobody reads) are listed with their reason in
tests/mutation/equivalent.txt; a line there without a reason is an error. Exit 0 when every
module reaches --min-score, 1 when one does not, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = REPO / "tests" / "mutation" / "equivalent.txt"

# module (under src/mlgate) -> the unit tests that exercise it, under tests/unit (mutmut then
# picks, per mutated function, the tests among these that actually call it)
MODULES: dict[str, tuple[str, ...]] = {
    "manifests/reference.py": ("manifests/test_reference_grammar.py",
                               "manifests/test_rewrite_kinds.py", "repo/test_ascii_inputs.py"),
    "manifests/writer.py": ("manifests/test_rewrite_atomic.py",
                            "manifests/test_rewrite_guarantees.py"),
    "promote/confine.py": ("promote/test_confinement.py",),
    "promote/promote.py": ("promote/test_git.py", "promote/test_confinement.py",
                           "promote/test_registry.py", "promote/test_mutants.py"),
    "promote/message.py": ("promote/test_git.py", "promote/test_message.py",
                           "promote/test_mutants.py"),
    "scan/policy.py": ("scan/test_policy.py",),
    "benchmark/decide.py": ("benchmark/test_run.py", "benchmark/test_decide.py"),
    "cluster/revision.py": ("cluster/test_revision.py", "cluster/test_status.py"),
    "cluster/status.py": ("cluster/test_status.py",),
    "cluster/wait.py": ("cluster/test_wait.py",),
    "cluster/config.py": ("cluster/test_wait.py",),
    "verify/measure.py": ("verify/test_measure.py",),
    "verify/evidence.py": ("verify/test_evidence.py",),
    "verify/act.py": ("verify/test_act.py",),
    "verify/check.py": ("verify/test_check.py",),
    "verify/promql.py": ("verify/test_promql.py",),
    "verify/analysis.py": ("verify/test_analysis.py",),
    "serve/flagger.py": ("serve/test_flagger.py",),
    "canary/steps.py": ("canary/test_steps.py",),
    "audit/commit.py": ("audit/test_audit_commit.py", "audit/test_audit_exact.py"),
    "audit/outcome.py": ("audit/test_outcome_notes.py", "audit/test_outcome_exact.py"),
    "promote/tagging.py": ("promote/test_tag.py",),
    "comply/rego.py": ("comply/test_policies.py", "comply/test_example_policies.py",
                       "comply/test_scratch.py", "comply/test_rego_exact.py"),
    "comply/policies.py": ("comply/test_policies.py", "comply/test_policies_exact.py"),
    "comply/documents.py": ("comply/test_documents.py", "comply/test_documents_exact.py"),
    "comply/fairness.py": ("comply/test_fairness_limits.py", "comply/test_fairness_exact.py"),
}

STATUS_LINE = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+): (?P<status>[\w ]+?)\s*$")
KILLED = {"killed", "timeout", "segfault"}   # a test noticed (a hang or a crash counts)


@dataclass
class Score:
    module: str
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)   # no tests, skipped, suspicious

    @property
    def judged(self) -> int:
        return self.killed + len(self.survived) + sum(self.other.values())

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.judged if self.judged else 100.0


def load_equivalents(path: Path = EQUIVALENT_FILE) -> dict[str, str]:
    """mutant name -> why no test can tell it from the original."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, _, reason = text.partition(" ")
        if not STATUS_LINE.match(f"{name}: x") or not reason.strip(" #"):
            raise SystemExit(f"{path}:{number}: expected 'MUTANT_NAME  # reason', got {text!r}")
        found[name] = reason.strip(" #")
    return found


def module_name(module: str) -> str:
    return "mlgate." + module.removesuffix(".py").replace("/", ".")


def prepare(work: Path, modules: list[str], tests: list[str]) -> None:
    """A copy of the project with a [tool.mutmut] section naming just these modules."""
    shutil.copytree(REPO / "src", work / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(REPO / "tests", work / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"))
    shutil.copytree(REPO / "examples", work / "examples",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    only = ", ".join(json.dumps(f"src/mlgate/{m}") for m in modules)
    selection = ", ".join(json.dumps(t) for t in tests)
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    text += ("\n[tool.mutmut]\n"
             'source_paths = ["src"]\n'
             'also_copy = ["examples"]\n'
             f"only_mutate = [{only}]\n"
             f"pytest_add_cli_args_test_selection = [{selection}]\n"
             'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n')
    (work / "pyproject.toml").write_text(text, encoding="utf-8")


def run_mutmut(work: Path, children: int) -> dict[str, str]:
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([str(mutmut), "run", "--max-children", str(children)], cwd=work,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit(f"mutmut run failed (exit {proc.returncode})")
    out = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=work, env=env,
                         capture_output=True, text=True, check=True).stdout
    statuses = {}
    for line in out.splitlines():
        m = STATUS_LINE.match(line)
        if m:
            statuses[m["name"]] = m["status"]
    return statuses


def score(modules: list[str], statuses: dict[str, str], equivalents: dict[str, str]
          ) -> list[Score]:
    scores = []
    for module in modules:
        prefix = module_name(module) + "."
        s = Score(module)
        for name, status in sorted(statuses.items(), key=lambda kv: _natural(kv[0])):
            if not name.startswith(prefix):
                continue
            if status in KILLED:
                s.killed += 1
            elif name in equivalents:
                s.equivalent.append(name)
            elif status == "survived":
                s.survived.append(name)
            else:
                s.other[status] = s.other.get(status, 0) + 1
        scores.append(s)
    return scores


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def show(work: Path, name: str) -> str:
    mutmut = Path(sys.executable).with_name("mutmut")
    proc = subprocess.run([str(mutmut), "show", name], cwd=work, capture_output=True, text=True)
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="path under src/mlgate, e.g. "
                        "manifests/reference.py; known: " + ", ".join(MODULES))
    parser.add_argument("--tests", action="append", default=None,
                        help="test file(s) to run instead of the module's own list")
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument("--keep", type=Path, default=None,
                        help="run in this folder and keep it (mutmut browse works there)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if not (REPO / "src" / "mlgate" / m).is_file()]
    if unknown:
        parser.error(f"no such module under src/mlgate: {', '.join(unknown)}")
    if args.tests:
        tests = args.tests
    else:
        missing = [m for m in args.modules if m not in MODULES]
        if missing:
            parser.error(f"no test list for {', '.join(missing)}: pass --tests")
        tests = sorted({f"tests/unit/{t}" for m in args.modules for t in MODULES[m]
                        if (REPO / "tests" / "unit" / t).exists()})
    equivalents = load_equivalents()
    work = args.keep or Path(tempfile.mkdtemp(prefix="mlgate-mutation-"))
    try:
        if args.keep and work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        prepare(work, args.modules, tests)
        statuses = run_mutmut(work, args.max_children)
        scores = score(args.modules, statuses, equivalents)
        failed = False
        for s in scores:
            ok = s.percent >= args.min_score
            failed |= not ok
            other = "".join(f", {n} {k}" for k, n in sorted(s.other.items()))
            print(f"{s.module}: {s.percent:.1f} % ({s.killed} killed of {s.judged}; "
                  f"{len(s.survived)} survived{other}; {len(s.equivalent)} equivalent "
                  f"excluded) {'OK' if ok else f'BELOW {args.min_score:g} %'}")
            for name in s.survived:
                print(f"  survived: {name}")
                if args.show:
                    print("    " + show(work, name).replace("\n", "\n    "))
        return 1 if failed else 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
