"""Benchmark: one promotion into a 10,000-file config repo.

Prints, measured in this one run:
- the wall time of `mlgate promote` over the loopback smart-HTTP git server as a ratio of a
  plain `git clone --depth 1` of the same repo (target <= 2x; mlgate clones sparsely, so it
  can beat the plain clone);
- the API calls one promotion makes through the GitHub stand-in (target <= 5 whatever the number
  of files) and through the GitLab stand-in (target: 1 commit call).
Real git, real PyGithub and python-gitlab; only the forges' HTTP APIs are stand-ins.
Not a timed test: run `python bench/promote.py [--files N]` with the dev extra installed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.gitserver import GitHttpServer, git_client_env  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
IMAGE = "registry.example.com/ml/app0"


def config_files(count: int) -> dict[str, str]:
    files = {}
    per_app = 10
    for i in range(count):
        app, n = divmod(i, per_app)
        env = ("staging", "production")[n % 2]
        files[f"apps/app{app}/{env}/m{n}.yaml"] = (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{app}-{n}\n"
            f"spec:\n  template:\n    spec:\n      containers:\n        - name: main\n"
            f"          image: registry.example.com/ml/app{app}:v1.0.0\n"
        )
    return files


def timed(cmd: list[str], env: dict[str, str], cwd: str | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[:4]} failed: {proc.stderr[-1500:]}")
    return elapsed


def promote_cmd(url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mlgate", "promote", "--repo", url, "--app", "app0",
            "--path", "apps/app0", "--environment", "production",
            "--image", f"{IMAGE}:v2.0.0", *extra]


def bench_git(tmp: Path, files: dict[str, str]) -> None:
    with GitHttpServer(tmp / "srv", users={"writer": (TOKEN, "write")}) as server:
        server.create_repo("config", files)
        env = git_client_env(tmp / "home", "writer", TOKEN)
        clone_s = timed(["git", "clone", "--quiet", "--depth", "1", server.url("config"),
                         str(tmp / "plain")], env)
        menv = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src"),
                "MLGATE_GIT_TOKEN": TOKEN, "MLGATE_GIT_USERNAME": "writer"}
        promote_s = timed(promote_cmd(server.url("config")), menv)
        landed = server.git("config", "log", "-1", "--format=%s", "main").strip()
    ratio = promote_s / clone_s
    print(f"config repo:                  {len(files)} files, over http://127.0.0.1 (git http-backend)")
    print(f"git clone --depth 1:          {clone_s:.2f} s")
    print(f"mlgate promote (git, push):   {promote_s:.2f} s  [{landed}]")
    print(f"promote / clone:              {ratio:.2f}x  (target <= 2x)  {'OK' if ratio <= 2 else 'MISSED'}")


def bench_gitlab(tmp: Path, files: dict[str, str]) -> None:
    from standins.gitlab_api import GitLabApiServer

    with GitHttpServer(tmp / "gl", users={"writer": (TOKEN, "write")}) as server, \
            GitLabApiServer(server.root, tokens={TOKEN: "write"}) as api:
        api.create_project("platform/config", files)
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src"),
               "GITLAB_TOKEN": TOKEN, "MLGATE_GIT_USERNAME": "writer"}
        api.log.clear()
        timed(promote_cmd(server.url("platform/config"), "--provider", "gitlab",
                          "--api-url", api.url), env)
        calls = list(api.log)
    commits = [r for r in calls if r.method == "POST" and r.path.endswith("/repository/commits")]
    print(f"GitLab API calls, one promotion: {len(calls)} in all, {len(commits)} commit call "
          f"(target 1 commit call)  {'OK' if len(commits) == 1 else 'MISSED'}")


def bench_github(tmp: Path, files: dict[str, str]) -> None:
    from standins.github_api import WRITE_TOKEN, GitHubStandIn

    with GitHttpServer(tmp / "gh", users={"x-access-token": (WRITE_TOKEN, "write")}) as server, \
            GitHubStandIn(server.root / "acme", files=files) as api:
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src"),
               "GITHUB_TOKEN": WRITE_TOKEN, "NO_PROXY": "127.0.0.1"}
        api.clear_log()
        timed(promote_cmd(server.url("acme/config"), "--provider", "github",
                          "--api-url", api.api_url), env)
        calls = api.calls()
    print(f"GitHub API calls, one promotion: {len(calls)} "
          f"({', '.join(f'{c.method} {c.path}' for c in calls)}) (target <= 5)  "
          f"{'OK' if len(calls) <= 5 else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    files = config_files(args.files)
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-promote-") as tmp:
        bench_git(Path(tmp), files)
        bench_gitlab(Path(tmp), files)
        bench_github(Path(tmp), files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
