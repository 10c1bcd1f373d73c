"""Running the demo: set the fixtures up, then the pipeline for staging and production and the
rollback stage for production, each run in process (mlgate.pipeline.invoke) with an explicit
environ mapping.

Inner commands' own output goes to <workdir>/reports/logs/ (printed with --verbose); the demo
prints one line per step and a summary of each gate.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.demo.fixtures import (
    CANDIDATE_TAG,
    CANDIDATE_VERSION,
    CHAMPION_VERSION,
    CURRENT_TAG,
    IMAGE_REPO,
    Workspace,
    check_installed,
    copy_project,
    git,
    make_config_repo,
    scan_plan,
    train_and_register,
    write_config,
    write_data,
)
from mlgate.demo.summary import gate_lines, load_json, verify_lines, write_summary
from mlgate.errors import EXIT_GATE, EXIT_SERVICE, BadInput, GateFailed, MlgateError, ServiceError
from mlgate.pipeline.invoke import run_pipeline_file, run_stage

if TYPE_CHECKING:
    from mlgate.demo.live import Exporter, Prometheus

STEPS = 10


@dataclass(frozen=True)
class DemoResult:
    workdir: str
    config_repo: str
    report: str
    log: str
    seconds: float
    scanned: str
    aliases: dict[str, dict[str, str | None]] = field(default_factory=dict)


class _Steps:
    """The demo's progress lines and its inner commands, each logged to reports/logs/."""

    def __init__(self, logs: Path, say: Callable[[str], None], verbose: bool) -> None:
        self.logs, self.say, self.verbose = logs, say, verbose
        self.step = 0

    def progress(self, text: str) -> None:
        self.step += 1
        self.say(f"[{self.step}/{STEPS}] {text}")

    def detail(self, text: str) -> None:
        self.say(f"      {text}")

    def run(self, call: Callable[[], int], log_name: str) -> int:
        """Run one inner command; its output goes to reports/logs/<log_name>.log (to the
        terminal with --verbose)."""
        if self.verbose:
            return call()
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                return call()
        finally:
            (self.logs / f"{log_name}.log").write_text(buf.getvalue(), encoding="utf-8")

    def check(self, code: int, log_name: str, what: str) -> None:
        if code == 0:
            return
        log = self.logs / f"{log_name}.log"
        if not self.verbose and log.is_file():
            for line in log.read_text(encoding="utf-8").splitlines()[-30:]:
                self.say(f"      | {line}")
        where = "" if self.verbose else f"; its output is in {log}"
        raise step_failed(f"demo step '{what}' failed with exit {code}{where}", code)


def _rolled_back(folder: Path) -> bool:
    """The production pipeline ended as the demo's story says: verify failed and rolled back."""
    outputs = load_json(folder / "pipeline.json").get("outputs") or {}
    return outputs.get("verify-rolled-back") == "true"


def step_failed(message: str, code: int) -> MlgateError:
    """An inner command's failure as the demo's own, meaning what its exit code meant: 1 a gate
    said no, 3 an outside service failed, anything else bad input (2)."""
    kind = {EXIT_GATE: GateFailed, EXIT_SERVICE: ServiceError}.get(code, BadInput)
    return kind(message)


def run_demo(workdir: str | None, say: Callable[[str], None], environ: Mapping[str, str], *,
             verbose: bool = False) -> DemoResult:
    """The whole demo in `workdir` (a new temporary directory when None). `environ` is the
    environment everything starts from: git and Trivy get it, and the inner commands get it
    with the demo's registry and config repo added; os.environ and the cwd are left alone."""
    started = time.perf_counter()
    check_installed()
    base = Path(workdir or tempfile.mkdtemp(prefix="mlgate-demo-")).resolve()
    base.mkdir(parents=True, exist_ok=True)
    ws = Workspace(base, dict(environ))
    steps = _Steps(ws.logs, say, verbose)

    config = copy_project(ws)
    app = str(config.get("app") or "churn")
    model_name = str((config.get("model") or {}).get("name") or app)
    target = str((config.get("benchmark") or {}).get("target") or "target")
    env_path = str((config.get("promote") or {}).get("path") or f"apps/{app}")
    environments = [e for e in config.get("environments") or [] if isinstance(e, dict)]
    if [e.get("name") for e in environments][:2] != ["staging", "production"]:
        raise BadInput("examples/model-project/mlgate.yaml: the demo expects the environments "
                       "staging then production")

    steps.progress(f"model project {ws.project}: a copy of examples/model-project "
                   "(mlgate.yaml, suites/)")
    train, holdout = write_data(ws, target)
    steps.detail(f"data: scikit-learn's breast cancer set, {len(train) + len(holdout)} "
                 f"rows: {len(train)} to train on, {len(holdout)} held out in "
                 "data/holdout.csv")

    steps.progress(f"MLflow registry {ws.registry_uri}: train and register champion "
                   "and candidate")
    for line in train_and_register(ws, model_name, target, train, holdout):
        steps.detail(line)
    steps.detail(f"aliases: {model_name}@champion and {model_name}@staging -> version "
                 f"{CHAMPION_VERSION} (promoted before)")

    steps.progress(f"config repo {ws.remote}: a bare git repo made from "
                   "examples/config-repo, the branch Argo CD or Flux would watch")
    make_config_repo(ws, app)
    steps.detail(f"staging and production run {IMAGE_REPO}:{CURRENT_TAG}, model "
                 f"{CHAMPION_VERSION}")

    trivy, scan_lines = scan_plan(ws, config)
    live = _start_live(ws, app, steps)
    try:
        return _gate_promote_verify(ws, config, app, model_name, env_path, environments,
                                    trivy, scan_lines, live, steps, started)
    finally:
        if live is not None:
            live.close()


def _refused_candidate(ws: Workspace, config: dict, app: str, env_path: str,
                       env: Mapping[str, str], steps: _Steps) -> None:
    """The compliance gate saying no before any commit: a deliberately bad candidate for
    production (its image by the mutable tag `latest`), judged by the example policies on the
    manifests the promotion would write. The gate must refuse it (exit 1)."""
    section = config.get("compliance") if isinstance(config.get("compliance"), dict) else {}
    policies = ws.project / str(section.get("policy") or "policies")
    bad = f"{IMAGE_REPO}:latest"
    steps.progress(f"mlgate comply --environment production --image {bad}: a deliberately bad "
                   "candidate, refused before any commit")
    inputs = {"repo": str(ws.remote), "app": app, "environment": "production",
              "path": env_path, "image": [bad], "policy": [str(policies)],
              "document": ["bias_audit.md:version"], "model-repo": str(ws.project),
              "model-version": CANDIDATE_VERSION}
    out = ws.reports / "comply-bad-candidate.json"
    code = steps.run(lambda: run_stage("comply", inputs, env, json_path=str(out)),
                     "comply-bad-candidate")
    if code != EXIT_GATE:
        raise step_failed(f"mlgate comply of {bad} exited {code}, not 1 (refused): see "
                          f"{ws.logs / 'comply-bad-candidate.log'}", code if code else 2)
    result = load_json(out).get("result") or {}
    for finding in result.get("findings") or []:
        if finding.get("kind") != "warn":
            steps.detail(f"comply: deny {finding.get('rule')}: {finding.get('message')}")
    steps.detail("nothing was committed: the config repo is unchanged")


def _audit_trail(ws: Workspace, env: Mapping[str, str], steps: _Steps) -> None:
    """What the config repo answers by itself afterwards: status of every environment, and
    the audit of the staging promotion (its evidence kept in the same commit, every hash
    re-checked)."""
    steps.progress("mlgate status and mlgate audit: the config repo answers from git alone")
    code = steps.run(lambda: run_stage("status", {"repo": str(ws.remote)}, env,
                                       json_path=str(ws.reports / "status.json")), "status")
    steps.check(code, "status", "mlgate status")
    for row in (load_json(ws.reports / "status.json").get("result") or {}).get("rows") or []:
        gates = ", ".join(f"{g['gate']} {g['verdict']}" for g in row.get("gates") or [])
        steps.detail(f"status: {row['environment']} runs {row['image'].rsplit('/', 1)[-1]}, "
                     f"model version {row['model_version']}"
                     + (" (rolled back)" if row.get("rolled_back") else "")
                     + (f"; gates {gates}" if gates else ""))
    sha = git(ws.remote, ws.environ, "log", "-1", "--format=%H", "--grep",
              "^Mlgate-Environment: staging$", "main").strip()
    code = steps.run(lambda: run_stage("audit", {"commit": sha, "repo": str(ws.remote)}, env,
                                       json_path=str(ws.reports / "audit.json")), "audit")
    steps.check(code, "audit", f"mlgate audit {sha[:12]}")
    result = load_json(ws.reports / "audit.json").get("result") or {}
    steps.detail(f"audit {sha[:12]}: {len(result.get('checks') or [])} checks ok; evidence "
                 f"in {result.get('evidence_dir')} (the gates' results, summary.md, an "
                 "in-toto statement)")


@dataclass
class _Live:
    """The demo's live model servers' metrics and the Prometheus that scrapes them."""

    exporter: Exporter
    prometheus: Prometheus

    @property
    def url(self) -> str:
        return self.prometheus.url

    def close(self) -> None:
        self.prometheus.close()
        self.exporter.close()


def _start_live(ws: Workspace, app: str, steps: _Steps) -> _Live | None:
    """A real Prometheus scraping the demo's model servers (mlgate.demo.live), when a
    `prometheus` binary is at hand: staging serves well, production's live accuracy falls to
    0.80 after the promotion. None, said plainly, without one."""
    from mlgate.demo.live import Exporter, Prometheus, find_prometheus

    binary = find_prometheus(ws.environ)
    if binary is None:
        steps.detail("verify: NOT RUN - no `prometheus` on PATH (Debian/Ubuntu: apt-get "
                     "install prometheus; or PROMETHEUS=/path/to/prometheus); production is "
                     "rolled back by hand instead")
        return None
    exporter = Exporter()
    exporter.set(f"{app}-staging", app, error_ratio=0.001, latency=0.08, accuracy=0.96)
    exporter.set(f"{app}-production", app, error_ratio=0.002, latency=0.09, accuracy=0.80)
    prometheus = Prometheus(binary, ws.base / "prometheus", exporter.address,
                            ws.logs / "prometheus.log")
    live = _Live(exporter, prometheus)
    try:
        prometheus.wait_ready()
        prometheus.wait_for_traffic()
    except MlgateError:
        live.close()
        raise
    steps.detail(f"Prometheus {prometheus.url} ({binary}) scrapes the model servers' "
                 f"metrics from {exporter.address}: staging serves well; production's live "
                 "accuracy will be 0.80")
    return live


def _gate_promote_verify(ws: Workspace, config: dict, app: str, model_name: str,
                         env_path: str, environments: list, trivy: str | None,
                         scan_lines: list[str], live: _Live | None, steps: _Steps,
                         started: float) -> DemoResult:
    write_config(ws, config, trivy, live.url if live is not None else None)
    env = {
        **{k: v for k, v in ws.environ.items() if not k.startswith("MLGATE_IN_")},
        "MLFLOW_TRACKING_URI": ws.registry_uri,
        "MLFLOW_REGISTRY_URI": ws.registry_uri,
        "MLGATE_CANDIDATE_VERSION": CANDIDATE_VERSION,
        "MLGATE_IMAGE_TAG": CANDIDATE_TAG,
        "MLGATE_CONFIG_REPO": str(ws.remote),
        "MLGATE_CONFIG_CHECKOUT": str(ws.checkout),
    }
    if trivy is not None:
        env["TRIVY"] = trivy
    staging_gates = [g for g in environments[0].get("gates") or []
                     if trivy is not None or g != "scan"]
    _refused_candidate(ws, config, app, env_path, env, steps)

    for name in ("staging", "production"):
        folder = ws.reports / name
        if name == "staging":
            steps.progress(f"mlgate pipeline --environment staging: gates "
                           f"{', '.join(staging_gates) or 'none'}, then promote "
                           f"{model_name} version {CANDIDATE_VERSION} and "
                           f"{IMAGE_REPO}:{CANDIDATE_TAG}"
                           + (", then verify the live model" if live is not None else ""))
            for line in scan_lines:
                steps.detail(line)
        else:
            steps.progress("mlgate pipeline --environment production: exactly what staging "
                           "runs, no new gates"
                           + (", then verify the live model" if live is not None else ""))
        code = steps.run(lambda: run_pipeline_file(
            ws.project / "mlgate.yaml", name, folder, env,
            json_path=str(folder / "pipeline.json")), f"pipeline-{name}")
        for line in gate_lines(folder, staging_gates if name == "staging" else []):
            steps.detail(line)
        if live is not None:
            for line in verify_lines(folder):
                steps.detail(line)
        if live is not None and name == "production" and _rolled_back(folder):
            continue   # the story: production's verification failed and rolled back (exit 1)
        steps.check(code, f"pipeline-{name}", f"mlgate pipeline --environment {name}")

    from mlgate.registry.mlflow_alias import current_version

    aliases: dict[str, dict[str, str | None]] = {}

    def read_aliases(when: str) -> str:
        now = {a: current_version(model_name, a, tracking_uri=ws.registry_uri)
               for a in ("staging", "champion")}
        aliases[when] = now
        return ", ".join(f"{model_name}@{a} -> version {v}" for a, v in now.items())

    steps.progress(f"MLflow registry after the promotions: {read_aliases('promoted')}")

    if live is not None:
        steps.progress(f"production's live model failed verification, so mlgate rolled it "
                       f"back by itself: a commit restoring what it ran before, the reason in "
                       f"its trailers; {model_name}@champion never moved (it waits for a "
                       "verified model)")
        verified = load_json(ws.reports / "production" / "verify.json")
        outputs = verified.get("outputs") or {}
        steps.detail(f"rollback: rolled back by verify: {outputs.get('rollback-commit', '?')}"
                     f" ({outputs.get('message', '')})")
    else:
        steps.progress(f"mlgate rollback {app} in production: back to what it ran before, "
                       f"and {model_name}@champion back to its previous version")
        inputs = {"repo": str(ws.remote), "app": app, "environment": "production",
                  "path": env_path, "tracking-uri": ws.registry_uri}
        code = steps.run(lambda: run_stage(
            "rollback", inputs, env, json_path=str(ws.reports / "rollback-production.json")),
            "rollback-production")
        steps.check(code, "rollback-production", "mlgate rollback --environment production")
        rolled = load_json(ws.reports / "rollback-production.json")
        if rolled:
            steps.detail(f"rollback: {rolled.get('verdict', '?')} - {rolled.get('title', '')}")
    steps.detail("wait-sync: not run - it reads Argo CD's or Flux's status, which needs a "
                 "cluster (docs/commands/wait-sync.md)")
    steps.detail(f"MLflow registry now: {read_aliases('rolled back')}")

    _audit_trail(ws, env, steps)

    steps.progress("the summary report and the config repo history")
    log = git(ws.remote, ws.environ, "log", "--format=%h %s%n%(trailers:only,unfold)", "main")
    seconds = time.perf_counter() - started
    skipped = [g for g in environments[0].get("gates") or [] if g not in staging_gates]
    report = write_summary(ws, log, staging_gates, skipped, aliases, scan_lines, seconds,
                           model_name, verified=live is not None)
    return DemoResult(str(ws.base), str(ws.remote), str(report), log, seconds,
                      "; ".join(scan_lines), aliases)
