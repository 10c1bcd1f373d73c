"""Benchmark: the compliance gate's policies against bare regopy on the same work.

A config repo whose production folder holds --manifests YAML files (one Deployment each, every
one naming the image the promotion rewrites) and ten policy files: examples/model-project/policies (images,
GPU limits, region, the release's bias audit) plus six conftest-style ones (`package main`).
Two arms, alternated, --repeat times each, in one process:
- bare: regopy alone on the same documents (the manifests as the rewrite leaves them, parsed
  before the clock starts): one interpreter, the ten modules, a bundle built with the same
  entrypoints, each document set as input and every entrypoint queried, then the release;
- mlgate: `mlgate comply` in-process (CLI parsing, the shallow clone, the rewrite in memory,
  YAML parsing, the regopy child process, the report and its JSON file).
Prints the medians and mlgate / bare. Target: <= 1.3 (loading, rewriting in memory and
reporting are the overhead). The clone is of a local repository (borrowed, checked out in memory
where /dev/shm has room), as a CI job's checkout of the config repo would be.

Fairness: --rows rows (default 1M) of a binary task with three sensitive columns (5, 12 and 40
groups, one with missing values), candidate and champion predictions made outside the clock:
- bare: fairlearn's MetricFrame with the same figures mlgate computes (accuracy, recall,
  selection rate, true and false positive rates) for each column and each model;
- mlgate: mlgate.benchmark.fairness for the three columns (group labels, the frames, the spread
  and parity figures, the typed result).
Target: <= 1.5.

Also checks that `mlgate comply --help` imports neither regopy nor fairlearn. Exit 1 when a
target is missed.
Not a timed test: run `python bench/comply.py [--manifests N] [--rows N] [--repeat N]` in a
clone of mlgate.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
TARGET = 1.30
FAIRNESS_TARGET = 1.50
IMAGE = "registry.example.com/ml/app"
NEW = f"{IMAGE}:v2@sha256:" + "b" * 64
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
           "PATH": os.environ["PATH"]}

CONFTEST = {
    "replicas.rego": """
        package main
        import rego.v1
        deny_replicas contains msg if {
          input.kind == "Deployment"
          object.get(input.spec, "replicas", 1) < 2
          msg := sprintf("%s: production runs at least 2 replicas", [input.metadata.name])
        }
    """,
    "nonroot.rego": """
        package main
        import rego.v1
        deny_root contains msg if {
          input.kind == "Deployment"
          not input.spec.template.spec.securityContext.runAsNonRoot
          msg := sprintf("%s: runAsNonRoot is not set", [input.metadata.name])
        }
    """,
    "probes.rego": """
        package main
        import rego.v1
        warn_probe contains msg if {
          input.kind == "Deployment"
          some c in input.spec.template.spec.containers
          not c.readinessProbe
          msg := sprintf("%s: container %s has no readiness probe", [input.metadata.name, c.name])
        }
    """,
    "requests.rego": """
        package main
        import rego.v1
        deny_requests contains msg if {
          input.kind == "Deployment"
          some c in input.spec.template.spec.containers
          not c.resources.requests.memory
          msg := sprintf("%s: container %s has no memory request", [input.metadata.name, c.name])
        }
    """,
    "host.rego": """
        package main
        import rego.v1
        deny_host_network contains msg if {
          input.spec.template.spec.hostNetwork == true
          msg := sprintf("%s: hostNetwork", [input.metadata.name])
        }
    """,
    "labels.rego": """
        package main
        import rego.v1
        deny_labels contains msg if {
          input.kind == "Deployment"
          some label in ["app", "team"]
          not input.metadata.labels[label]
          msg := sprintf("%s: label %s is missing", [input.metadata.name, label])
        }
    """,
}


def deployment(i: int) -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: app{i}
          labels: {{app: app{i}, team: ml, region: eu-west-1}}
        spec:
          replicas: {1 + i % 3}
          template:
            spec:
              securityContext: {{runAsNonRoot: true}}
              containers:
                - name: main
                  image: {IMAGE}:v1
                  resources:
                    requests: {{cpu: 100m, memory: 256Mi{", nvidia.com/gpu: 1" if i % 50 == 0 else ""}}}
                    limits: {{cpu: "1", memory: 1Gi{", nvidia.com/gpu: 1" if i % 50 == 0 else ""}}}
        """)


def build(tmp: Path, manifests: int) -> tuple[Path, Path, Path]:
    work = tmp / "work"
    folder = work / "apps" / "bench" / "production"
    folder.mkdir(parents=True)
    for i in range(manifests):
        (folder / f"app{i:04d}.yaml").write_text(deployment(i))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=work, check=True, env=GIT_ENV)
    bare = tmp / "config.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True,
                   env=GIT_ENV)
    policies = tmp / "policies"
    shutil.copytree(ROOT / "examples" / "model-project" / "policies", policies)
    for name, text in CONFTEST.items():
        (policies / name).write_text(textwrap.dedent(text).lstrip())
    model = tmp / "model"
    shutil.copytree(ROOT / "examples" / "model-project", model)
    return bare, policies, model


def argv(bare: Path, policies: Path, model: Path, out: Path) -> list[str]:
    return ["comply", "--repo", str(bare), "--app", "bench", "--environment", "production",
            "--path", "apps/bench", "--image", NEW, "--policy", str(policies),
            "--model-repo", str(model), "--document", "bias_audit.md:version",
            "--model-version", "2", "--json", str(out)]


def prepared_inputs(bare: Path, policies: Path, model: Path):
    """What the bare arm evaluates: mlgate's own documents and release, made outside the
    clock (so the bare arm does none of mlgate's loading)."""
    from mlgate.comply.documents import check_documents, parse_spec
    from mlgate.comply.manifests import read_environment
    from mlgate.comply.policies import load_policies
    from mlgate.comply.release import release_input

    env = read_environment(repo=str(bare), provider="git", base="main", app="bench",
                           environment="production", env_path="apps/bench/production",
                           images=(NEW,), sets=(), environ={})
    _, facts = check_documents((parse_spec("bias_audit.md:version"),), str(model), "2")
    release = release_input(app="bench", environment="production", images=(NEW,),
                            gates={"validate": None, "benchmark": None, "scan": None},
                            version="2", documents=facts, environ={})
    return load_policies((str(policies),)), [s.document for s in env.subjects], release


def bare_arm(policies, documents, release) -> tuple[float, int]:
    from regopy import Interpreter, LogLevel

    started = time.perf_counter()
    manifest = [f"{pkg.replace('.', '/')}/{rule}" for pkg in ("main", "mlgate.manifest")
                for rule in policies.rules(pkg)]
    releases = [f"mlgate/release/{rule}" for rule in policies.rules("mlgate.release")]
    fired = 0
    for entrypoints, inputs in ((manifest, documents), (releases, [release])):
        rego = Interpreter()
        rego.log_level = LogLevel.NONE
        for f in policies.files:
            rego.add_module(f.path, f.source)
        rego.add_data({"mlgate": {"app": "bench", "environment": "production",
                                  "folder": "apps/bench/production"}})
        bundle = rego.build(None, entrypoints)
        runner = Interpreter()
        runner.log_level = LogLevel.NONE
        for doc in inputs:
            runner.set_input_term(json.dumps(doc))
            for entrypoint in entrypoints:
                out = runner.query_bundle_entrypoint(bundle, entrypoint)
                value = out.results[0].expressions[0] if out.results else []
                fired += len(value) if isinstance(value, (list, dict)) else 1
    return time.perf_counter() - started, fired


def mlgate_arm(args: list[str]) -> tuple[float, int]:
    from mlgate.cli import main

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(args, environ={"PATH": os.environ["PATH"]})
    elapsed = time.perf_counter() - started
    assert code in (0, 1), code
    doc = json.loads(Path(args[-1]).read_text())
    return elapsed, len(doc["result"]["findings"])


def fairness_inputs(rows: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    flip = rng.random(rows)
    candidate = np.where(flip < 0.9, y, 1 - y)
    champion = np.where(flip < 0.85, y, 1 - y)
    region = pd.Series(rng.choice([f"r{i}" for i in range(12)], rows))
    region[rng.random(rows) < 0.01] = None
    columns = {"age_band": pd.Series(rng.choice([f"a{i}" for i in range(5)], rows)),
               "region": region,
               "segment": pd.Series(rng.choice([f"s{i}" for i in range(40)], rows))}
    return y, candidate, champion, columns


def bare_fairness(y, candidate, champion, columns) -> float:
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, recall_score

    metrics = {"accuracy": accuracy_score, "recall": recall_score,
               "selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate}
    started = time.perf_counter()
    for values in columns.values():
        for pred in (candidate, champion):
            frame = MetricFrame(metrics=metrics, y_true=y, y_pred=pred,
                                sensitive_features=values.fillna("(missing)").to_numpy())
            frame.by_group, frame.difference(), frame.ratio()
    return time.perf_counter() - started


def mlgate_fairness(y, candidate, champion, columns) -> float:
    from mlgate.benchmark.fairness import fairness
    from mlgate.benchmark.metrics import get_metric
    from mlgate.benchmark.scores import ModelOutput

    metrics = [get_metric("accuracy"), get_metric("recall")]
    started = time.perf_counter()
    for name, values in columns.items():
        fairness(name, values, "classification", y, ModelOutput(candidate),
                 ModelOutput(champion), metrics, ("0", "1"))
    return time.perf_counter() - started


def help_imports() -> list[str]:
    code = ("import sys\nfrom mlgate.cli import main\nmain(['comply', '--help'], environ={})\n"
            "print('IMPORTS:' + ','.join(m for m in ('regopy', 'fairlearn') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("IMPORTS:")][-1]
    return [m for m in line[len("IMPORTS:"):].split(",") if m]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fairness-repeat", type=int, default=1,
                        help="runs of each fairness arm (a million rows take minutes each)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-comply-") as tmp_name:
        tmp = Path(tmp_name)
        bare, policies, model = build(tmp, opts.manifests)
        loaded, documents, release = prepared_inputs(bare, policies, model)
        print(f"{opts.manifests} manifests, {len(loaded.files)} policy files "
              f"({len(loaded.rules('main')) + len(loaded.rules('mlgate.manifest'))} manifest "
              f"rules, {len(loaded.rules('mlgate.release'))} release rules), "
              f"{len(documents)} documents after the rewrite")
        bare_times, mlgate_times = [], []
        for n in range(opts.repeat):
            seconds, fired_bare = bare_arm(loaded, documents, release)
            bare_times.append(seconds)
            seconds, fired_mlgate = mlgate_arm(argv(bare, policies, model, tmp / f"out{n}.json"))
            mlgate_times.append(seconds)
            if fired_bare != fired_mlgate:
                print(f"the arms disagree: bare {fired_bare} messages, mlgate {fired_mlgate}")
                return 1
        b, m = statistics.median(bare_times), statistics.median(mlgate_times)
        ratio = m / b
        print(f"messages: {fired_mlgate}")
        print(f"bare regopy (compile + evaluate): {b * 1000:.0f} ms   (runs: "
              + ", ".join(f"{t * 1000:.0f}" for t in bare_times) + ")")
        print(f"mlgate comply (whole command):    {m * 1000:.0f} ms   (runs: "
              + ", ".join(f"{t * 1000:.0f}" for t in mlgate_times) + ")")
        print(f"mlgate / bare: {ratio:.2f} (target <= {TARGET:.2f}) "
              f"{'met' if ratio <= TARGET else 'MISSED'}")
    inputs = fairness_inputs(opts.rows)
    mlgate_fairness(*fairness_inputs(1000))   # imports (fairlearn, sklearn) outside the clock
    bare_f, mlgate_f = [], []
    for _ in range(opts.fairness_repeat):
        bare_f.append(bare_fairness(*inputs))
        mlgate_f.append(mlgate_fairness(*inputs))
    fb, fm = statistics.median(bare_f), statistics.median(mlgate_f)
    fair_ratio = fm / fb
    print(f"fairness, {opts.rows} rows, 3 sensitive columns (5, 12 + missing, 40 groups), "
          "2 models:")
    print(f"bare fairlearn MetricFrame:   {fb * 1000:.0f} ms   (runs: "
          + ", ".join(f"{t * 1000:.0f}" for t in bare_f) + ")")
    print(f"mlgate benchmark fairness:    {fm * 1000:.0f} ms   (runs: "
          + ", ".join(f"{t * 1000:.0f}" for t in mlgate_f) + ")")
    print(f"mlgate / bare: {fair_ratio:.2f} (target <= {FAIRNESS_TARGET:.2f}) "
          f"{'met' if fair_ratio <= FAIRNESS_TARGET else 'MISSED'}")
    heavy = help_imports()
    print("mlgate comply --help imports " + (", ".join(heavy) if heavy else
                                             "neither regopy nor fairlearn"))
    return 0 if ratio <= TARGET and fair_ratio <= FAIRNESS_TARGET and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
