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
    repo = base / "config-repo"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(examples_dir() / "config-repo", repo)
    reports = base / "reports"
    reports.mkdir(exist_ok=True)

    say(f"[1/5] config repo: {repo} (a copy of examples/config-repo, as Argo CD or Flux watch it)")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial config: churn v1.4.0, model 3")

    for step, env in ((2, "staging"), (3, "production")):
        say(f"[{step}/5] promote churn {CURRENT} -> {CANDIDATE}, model {MODEL_FROM} -> {MODEL_TO} "
            f"into {env}")
        path = f"apps/churn/{env}"
        args = [
            "rewrite", "--root", str(repo), path,
            "--image", f"{IMAGE_REPO}:{CANDIDATE}",
            "--expect-current", f"{IMAGE_REPO}:{CURRENT}",
            "--set", f"{path}/model-version.yaml:spec.predictor.model.storageUri="
                     f"s3://models/churn/{MODEL_TO}",
            "--set", f"{path}/model-version.yaml:metadata.annotations[\"mlgate.io/model-version\"]"
                     f"={MODEL_TO}",
            "--diff", str(reports / f"{env}.diff"),
            "--json", str(reports / f"rewrite-{env}.json"),
        ]
        code = cli(args)
        if code != 0:
            raise BadInput(f"demo rewrite of {env} failed with exit {code}")
        say((reports / f"{env}.diff").read_text())
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m",
            f"promote churn to {env}: {CURRENT} -> {CANDIDATE}\n\n"
            f"Mlgate-App: churn\nMlgate-Environment: {env}\n"
            f"Mlgate-Previous: {IMAGE_REPO}:{CURRENT}\nMlgate-New: {IMAGE_REPO}:{CANDIDATE}")

    say("[4/5] re-run the staging promotion: nothing to change, no commit")
    code = cli(["rewrite", "--root", str(repo), "apps/churn/staging",
                "--image", f"{IMAGE_REPO}:{CANDIDATE}"])
    if code != 0:
        raise BadInput(f"demo idempotent re-run failed with exit {code}")

    say("[5/5] a stale job expecting v1.3.0 in production is refused (exit 1), nothing written")
    code = cli(["rewrite", "--root", str(repo), "apps/churn/production",
                "--image", f"{IMAGE_REPO}:v1.6.0", "--expect-current", f"{IMAGE_REPO}:v1.3.0"])
    if code != 1:
        raise BadInput(f"demo stale-job check expected exit 1, got {code}")
    if git(repo, "status", "--porcelain").strip():
        raise BadInput("demo: the refused rewrite left changes behind")

    log = git(repo, "log", "--stat", "--format=%h %s%n%b")
    report = reports / "summary.md"
    report.write_text(
        "# mlgate demo\n\n"
        f"Promoted `{IMAGE_REPO}` {CURRENT} -> {CANDIDATE} and model {MODEL_FROM} -> {MODEL_TO} "
        "into staging and production.\n\n"
        + "".join(f"## {env}\n\n```diff\n{(reports / f'{env}.diff').read_text()}```\n\n"
                  for env in ("staging", "production"))
        + f"## Config repo log\n\n```\n{log}```\n",
        encoding="utf-8",
    )
    return DemoResult(str(base), str(repo), str(report), log)
