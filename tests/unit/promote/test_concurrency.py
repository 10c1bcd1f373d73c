"""Concurrent promotions against one config repo: nothing lost, nothing overwritten, linear."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.configrepo import bare_from_tree, git, many_apps, show

SRC = str(Path(__file__).resolve().parents[3] / "src")


def run_promote(remote: str, app: str, image: str, *extra: str, env: dict | None = None):
    cmd = [sys.executable, "-m", "mlgate", "promote", "--repo", remote, "--app", app,
           "--environment", "prod", "--layout", "apps/{app}/{environment}",
           "--image", image, "--max-attempts", "60", *extra]
    full_env = {"PATH": os.environ["PATH"], "PYTHONPATH": SRC, **(env or {})}
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=300)


def assert_linear(remote: Path) -> None:
    merges = git(remote, "rev-list", "--merges", "main").split()
    assert merges == []


@pytest.fixture
def remote(tmp_path) -> Path:
    return bare_from_tree(tmp_path, many_apps(20))


def test_twenty_promotions_of_different_apps_all_land(remote):
    with ThreadPoolExecutor(max_workers=20) as pool:
        procs = list(pool.map(
            lambda i: run_promote(str(remote), f"app{i}", f"registry.example.com/team/app{i}:v2"),
            range(20)))
    assert [p.returncode for p in procs] == [0] * 20, [p.stderr[-500:] for p in procs if p.returncode]
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    assert len(subjects) == 21
    assert sorted(subjects[:-1]) == sorted(f"promote app{i} to prod: v1 -> v2" for i in range(20))
    for i in range(20):
        assert f"app{i}:v2" in show(remote, "main", f"apps/app{i}/prod/deploy.yaml")
    assert_linear(remote)


def test_same_app_with_expect_current_has_exactly_one_winner(remote):
    with ThreadPoolExecutor(max_workers=10) as pool:
        procs = list(pool.map(
            lambda n: run_promote(str(remote), "app0", f"registry.example.com/team/app0:v{n + 2}",
                                  "--expect-current", "registry.example.com/team/app0:v1"),
            range(10)))
    codes = sorted(p.returncode for p in procs)
    assert codes == [0] + [1] * 9, [p.stderr[-300:] for p in procs]
    assert len(git(remote, "log", "--format=%s", "main").splitlines()) == 2
    winner = next(n for n, p in enumerate(procs) if p.returncode == 0)
    assert f"app0:v{winner + 2}" in show(remote, "main", "apps/app0/prod/deploy.yaml")
    assert all("refusing to overwrite" in p.stderr for p in procs if p.returncode == 1)


def test_same_app_without_expect_current_all_land_last_one_wins(remote):
    with ThreadPoolExecutor(max_workers=10) as pool:
        procs = list(pool.map(
            lambda n: run_promote(str(remote), "app0", f"registry.example.com/team/app0:v{n + 2}"),
            range(10)))
    assert [p.returncode for p in procs] == [0] * 10, [p.stderr[-300:] for p in procs]
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    assert len(subjects) == 11
    last_landed = subjects[0].rsplit(" -> ", 1)[1]
    assert f"app0:{last_landed}\n" in show(remote, "main", "apps/app0/prod/deploy.yaml")
    assert_linear(remote)
