"""`mlgate demo`: the pipeline end to end on the bundled example, with nothing to set up.

It works in a temporary git repository made from examples/config-repo, so a first-time user
sees a real promotion (a diff, a commit, an idempotent re-run, a refused stale job) without
a cluster, a registry or credentials. It grows as the gates and promotion land.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import BadInput

IMAGE_REPO = "registry.example.com/ml/churn"
CURRENT, CANDIDATE = "v1.4.0", "v1.5.0"
MODEL_FROM, MODEL_TO = "3", "4"


@dataclass(frozen=True)
class DemoResult:
    workdir: str
    config_repo: str
    report: str
    log: str


def examples_dir() -> Path:
    """The examples folder: beside src/ in a checkout, or bundled in the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent / "examples", here / "_examples"):
        if (candidate / "config-repo").is_dir():
            return candidate
    raise BadInput("examples/config-repo not found: run the demo from a clone of mlgate")


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


def run_demo(workdir: str | None, say: Callable[[str], None], cli: Callable[[list[str]], int]) -> DemoResult:
    base = Path(workdir or tempfile.mkdtemp(prefix="mlgate-demo-")).resolve()
    base.mkdir(parents=True, exist_ok=True)
    seed, remote = base / "seed", base / "config.git"
    for old in (seed, remote, base / "config-repo"):
        if old.exists():
            shutil.rmtree(old)
    shutil.copytree(examples_dir() / "config-repo", seed)
    reports = base / "reports"
    reports.mkdir(exist_ok=True)

    say(f"[1/6] config repo {remote}: a bare git repo made from examples/config-repo, "
        "the branch Argo CD or Flux would watch")
    git(seed, "init", "-q")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "initial config: churn v1.4.0, model 3")
    git(base, "clone", "-q", "--bare", str(seed), str(remote))
    shutil.rmtree(seed)

    common = ["--repo", str(remote), "--app", "churn", "--path", "apps/churn",
              "--author-name", "mlgate demo", "--author-email", "demo@mlgate.invalid"]
    model_file = "model-version.yaml"
    say(f"[2/6] mlgate rewrite --dry-run: what a promotion of {CANDIDATE} would change")
    _run(cli, ["rewrite", "--root", str(examples_dir() / "config-repo"), "apps/churn/staging",
               "--image", f"{IMAGE_REPO}:{CANDIDATE}", "--dry-run",
               "--diff", str(reports / "staging.diff")], "dry run")

    say(f"[3/6] mlgate promote churn to staging: {CURRENT} -> {CANDIDATE}, model "
        f"{MODEL_FROM} -> {MODEL_TO}")
    _run(cli, ["promote", *common, "--environment", "staging",
               "--image", f"{IMAGE_REPO}:{CANDIDATE}",
               "--expect-current", f"{IMAGE_REPO}:{CURRENT}",
               "--set", f"{model_file}:spec.predictor.model.storageUri=s3://models/churn/{MODEL_TO}",
               "--set", f'{model_file}:metadata.annotations["mlgate.io/model-version"]={MODEL_TO}',
               "--json", str(reports / "promote-staging.json")], "promote staging")

    say("[4/6] mlgate promote churn to production --from-environment staging: exactly what "
        "staging runs")
    _run(cli, ["promote", *common, "--environment", "production", "--from-environment", "staging",
               "--image", IMAGE_REPO,
               "--set", f"{model_file}:spec.predictor.model.storageUri",
               "--set", f'{model_file}:metadata.annotations["mlgate.io/model-version"]',
               "--json", str(reports / "promote-production.json")], "promote production")

    say("[5/6] the same promotion again: nothing to change, no commit")
    _run(cli, ["promote", *common, "--environment", "production", "--from-environment", "staging",
               "--image", IMAGE_REPO], "idempotent promote")

    say("[6/6] mlgate rollback churn in production: back to what it ran before")
    _run(cli, ["rollback", *common, "--environment", "production",
               "--json", str(reports / "rollback-production.json")], "rollback")

    log = git(remote, "log", "--format=%h %s%n%(trailers:only,unfold)", "main")
    report = reports / "summary.md"
    report.write_text(
        "# mlgate demo\n\n"
        f"Promoted `{IMAGE_REPO}` {CURRENT} -> {CANDIDATE} and model {MODEL_FROM} -> {MODEL_TO} "
        "into staging, then production from staging, then rolled production back.\n\n"
        f"## What the staging promotion changes\n\n```diff\n{(reports / 'staging.diff').read_text()}```\n\n"
        f"## Config repo history\n\n```\n{log}```\n",
        encoding="utf-8",
    )
    return DemoResult(str(base), str(remote), str(report), log)


def _run(cli: Callable[[list[str]], int], args: list[str], what: str) -> None:
    code = cli(args)
    if code != 0:
        raise BadInput(f"demo step '{what}' failed with exit {code}")
