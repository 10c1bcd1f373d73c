"""mlgate promote over real smart HTTP (git http-backend on 127.0.0.1) with basic auth:
credentials travel only through askpass, rights are enforced, concurrency holds over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.configrepo import EXAMPLES, many_apps, tree_files
from support.fixtures import git_server  # noqa: F401

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
SRC = str(Path(__file__).resolve().parents[3] / "src")


def env_for(server, user="writer"):
    return {"PATH": "/usr/bin:/bin", "MLGATE_GIT_TOKEN": server.token(user),
            "MLGATE_GIT_USERNAME": user}


def promote(server, tmp_path, *args, user="writer"):
    out = tmp_path / "r.json"
    code = main(["promote", "--repo", server.url("config"), "--app", "churn",
                 "--path", "apps/churn", "--environment", "staging", "--json", str(out), *args],
                environ=env_for(server, user))
    return code, (json.loads(out.read_text()) if out.exists() else {})


def test_token_never_in_argv_config_or_outputs(git_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    import mlgate.promote.git as gitmod

    git_server.create_repo("config", tree_files(EXAMPLES))
    token = git_server.token("writer")
    seen_argv, seen_dirs = [], []
    real_run = subprocess.run

    def spy(args, *a, **kw):
        seen_argv.append(list(args))
        if kw.get("cwd"):
            seen_dirs.append(kw["cwd"])
        return real_run(args, *a, **kw)

    monkeypatch.setattr(gitmod.subprocess, "run", spy)
    code, data = promote(git_server, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0
    assert data["outputs"]["changed"] == "true"
    assert seen_argv and not any(token in " ".join(a) for a in seen_argv)
    out = capsys.readouterr()
    assert token not in out.out + out.err + json.dumps(data)
    assert all(not os.path.exists(d) for d in seen_dirs)  # no checkout or .git/config left
    assert git_server.git("config", "log", "-1", "--format=%s", "main").startswith(
        "promote churn to staging")


def test_reader_token_is_exit_3_with_a_clear_message(git_server, tmp_path, capsys):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    code, _ = promote(git_server, tmp_path, "--image", f"{IMG}:v1.5.0", user="reader")
    assert code == 3
    err = capsys.readouterr().err
    assert "no permission to push" in err or "permission" in err
    assert git_server.token("reader") not in err


def test_wrong_token_is_exit_3(git_server, tmp_path, capsys):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    code = main(["promote", "--repo", git_server.url("config"), "--app", "churn", "--path",
                 "apps/churn", "--environment", "staging", "--image", f"{IMG}:v1.5.0"],
                environ={"PATH": "/usr/bin:/bin", "MLGATE_GIT_TOKEN": "wrong-token-123",
                         "MLGATE_GIT_USERNAME": "writer"})
    assert code == 3
    err = capsys.readouterr().err
    assert "authentication" in err and "wrong-token-123" not in err


def test_twenty_promotions_over_http_all_land(git_server):  # noqa: F811
    git_server.create_repo("config", many_apps(20))

    def one(i):
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": SRC, **env_for(git_server)}
        return subprocess.run(
            [sys.executable, "-m", "mlgate", "promote", "--repo", git_server.url("config"),
             "--app", f"app{i}", "--environment", "prod", "--layout", "apps/{app}/{environment}",
             "--image", f"registry.example.com/team/app{i}:v2", "--max-attempts", "60"],
            env=env, capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=20) as pool:
        procs = list(pool.map(one, range(20)))
    assert [p.returncode for p in procs] == [0] * 20, [p.stderr[-400:] for p in procs if p.returncode]
    log = git_server.git("config", "log", "--format=%s", "main").splitlines()
    assert len(log) == 21 and git_server.git("config", "rev-list", "--merges", "main") == ""


def test_push_whose_answer_is_lost_counts_as_landed(git_server, tmp_path):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    git_server.fail_next(1, status=502, service="git-receive-pack", method="POST",
                         lose_response=True)
    code, data = promote(git_server, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert data["outputs"]["commit"] == git_server.head("config")
    log = git_server.git("config", "log", "--format=%s", "main").splitlines()
    assert log == ["promote churn to staging: v1.4.0 -> v1.5.0", "initial commit"]


def test_server_error_on_push_is_retried(git_server, tmp_path):  # noqa: F811
    git_server.create_repo("config", tree_files(EXAMPLES))
    git_server.fail_next(2, status=503, service="git-receive-pack", method="POST")
    code, data = promote(git_server, tmp_path, "--image", f"{IMG}:v1.5.0")
    assert code == 0, data
    assert int(data["outputs"]["attempts"]) >= 2
    assert len(git_server.git("config", "log", "--format=%s", "main").splitlines()) == 2
