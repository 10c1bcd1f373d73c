"""The loopback git server (tests/support/gitserver.py) behaves like a real smart-HTTP host.

Real git client against real `git http-backend`: credentials only through GIT_ASKPASS, shallow,
partial and sparse clones, pushes with rights, rejections, faults, and 20 racing pushers.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.gitserver import GitHttpServer, git_client_env, parse_report_status

pytest_plugins = ["support.fixtures"]  # the git_server fixture

CONFIG_FILES = {
    "README.md": "config repo\n",
    "apps/churn/staging/values.yaml": "image: registry.example/churn:v1.4.0\n",
    "apps/churn/production/values.yaml": "image: registry.example/churn:v1.4.0\n",
    "apps/fraud/production/values.yaml": "image: registry.example/fraud:v2.0.0\n",
    "charts/big.bin": bytes(range(256)) * 64,
}


def git(env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    if check and proc.returncode:
        raise AssertionError(f"git {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
    return proc


def client(tmp_path: Path, server: GitHttpServer, user: str, token: str | None = None
           ) -> dict[str, str]:
    return git_client_env(tmp_path / f"home-{user}", user,
                          server.token(user) if token is None else token)


def commit_file(env: dict[str, str], work: Path, rel: str, text: str, msg: str) -> None:
    (work / rel).parent.mkdir(parents=True, exist_ok=True)
    (work / rel).write_text(text)
    git(env, "add", rel, cwd=work)
    git(env, "commit", "-q", "-m", msg, cwd=work)


def test_clone_gets_credentials_from_askpass_only(git_server, tmp_path):
    git_server.create_repo("config", CONFIG_FILES)
    env = client(tmp_path, git_server, "writer")
    token = git_server.token("writer")
    url = git_server.url("config")
    assert "@" not in url and token not in url
    env["GIT_TRACE_PACKET"] = "1"
    proc = git(env, "clone", url, str(tmp_path / "c"))
    assert (tmp_path / "c/apps/churn/production/values.yaml").read_text() == \
        CONFIG_FILES["apps/churn/production/values.yaml"]
    assert (tmp_path / "c/charts/big.bin").read_bytes() == CONFIG_FILES["charts/big.bin"]
    # protocol v2 made it through to http-backend (it answers "version 2" only if it saw it)
    assert "git< version 2" in proc.stderr
    # nothing credential-like left behind in the clone's config
    config = (tmp_path / "c/.git/config").read_text()
    assert token not in config and "writer" not in config
    log = git_server.requests
    assert (log[0].status, log[0].user) == (401, None)  # git asks first, anonymously
    assert {r.user for r in log[1:]} == {"writer"}
    assert all(r.status == 200 for r in log[1:])
    assert all(r.git_protocol == "version=2" for r in log if r.service == "git-upload-pack")


def test_anonymous_request_gets_basic_challenge_and_git_does_not_prompt(git_server, tmp_path):
    git_server.create_repo("config")
    req = urllib.request.Request(git_server.url("config") + "/info/refs?service=git-upload-pack")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401
    assert err.value.headers["WWW-Authenticate"] == 'Basic realm="mlgate-test"'
    # no askpass, no terminal prompt: git fails at once instead of hanging on a prompt
    env = git_client_env(tmp_path / "home")
    del env["GIT_ASKPASS"]
    proc = git(env, "ls-remote", git_server.url("config"), check=False)
    assert proc.returncode == 128
    assert "could not read Username" in proc.stderr


def test_shallow_single_branch_clone(git_server, tmp_path):
    git_server.create_repo("config", CONFIG_FILES)
    env = client(tmp_path, git_server, "writer")
    seed = tmp_path / "seed"
    git(env, "clone", "-q", git_server.url("config"), str(seed))
    for i in range(3):
        commit_file(env, seed, f"apps/churn/staging/n{i}.txt", f"{i}\n", f"commit {i}")
    git(env, "push", "-q", "origin", "main", cwd=seed)
    git(env, "push", "-q", "origin", "main~2:refs/heads/other", cwd=seed)

    shallow = tmp_path / "shallow"
    git(env, "clone", "-q", "--depth", "1", "--single-branch", "--branch", "main",
        git_server.url("config"), str(shallow))
    assert git(env, "rev-parse", "--is-shallow-repository", cwd=shallow).stdout.strip() == "true"
    assert git(env, "rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    remote_refs = git(env, "for-each-ref", "--format=%(refname)", "refs/remotes", cwd=shallow)
    assert "refs/remotes/origin/other" not in remote_refs.stdout.split()
    assert "refs/remotes/origin/main" in remote_refs.stdout.split()
    assert (shallow / "apps/churn/staging/n2.txt").read_text() == "2\n"
    # a shallow clone can commit and push on top (what a promotion does)
    commit_file(env, shallow, "apps/churn/production/values.yaml", "image: x:v1.5.0\n", "promote")
    git(env, "push", "-q", "origin", "main", cwd=shallow)
    assert git_server.head("config") == git(env, "rev-parse", "HEAD", cwd=shallow).stdout.strip()


def test_partial_sparse_clone_fetches_only_the_path(git_server, tmp_path):
    git_server.create_repo("config", CONFIG_FILES)
    env = client(tmp_path, git_server, "writer")
    work = tmp_path / "sparse"
    git(env, "clone", "-q", "--filter=blob:none", "--sparse", "--depth", "1",
        git_server.url("config"), str(work))
    git_server.clear_log()
    git(env, "sparse-checkout", "set", "apps/churn/production", cwd=work)
    # the checkout's blobs came lazily, over HTTP, with the same askpass credentials
    assert any(r.method == "POST" and r.service == "git-upload-pack" and r.status == 200
               for r in git_server.requests)
    assert (work / "apps/churn/production/values.yaml").exists()
    assert not (work / "apps/fraud").exists() and not (work / "charts").exists()
    missing = git(env, "rev-list", "--objects", "--missing=print", "HEAD", cwd=work).stdout
    missing_oids = {line[1:] for line in missing.splitlines() if line.startswith("?")}
    big_oid = git_server.git("config", "rev-parse", "main:charts/big.bin").strip()
    assert big_oid in missing_oids  # never downloaded
    commit_file(env, work, "apps/churn/production/values.yaml", "image: x:v1.5.0\n", "promote")
    git(env, "push", "-q", "origin", "main", cwd=work)
    assert git_server.git("config", "show", "main:apps/churn/production/values.yaml") == \
        "image: x:v1.5.0\n"
    # the untouched files are intact on the server
    assert git_server.git("config", "show", "main:apps/fraud/production/values.yaml") == \
        CONFIG_FILES["apps/fraud/production/values.yaml"]


def test_writer_pushes_reader_gets_403(git_server, tmp_path):
    git_server.create_repo("config", CONFIG_FILES)
    before = git_server.head("config")
    env_r = client(tmp_path, git_server, "reader")
    work = tmp_path / "r"
    git(env_r, "clone", "-q", git_server.url("config"), str(work))  # reading is allowed
    commit_file(env_r, work, "x.txt", "x\n", "by reader")
    proc = git(env_r, "push", "origin", "main", cwd=work, check=False)
    assert proc.returncode == 128
    assert "The requested URL returned error: 403" in proc.stderr
    assert git_server.head("config") == before
    assert any(r.user == "reader" and r.status == 403 and r.service == "git-receive-pack"
               for r in git_server.requests)
    assert git_server.push_count == 0

    env_w = client(tmp_path, git_server, "writer")
    git(env_w, "push", "-q", "origin", "main", cwd=work)  # same commit, writer's credentials
    assert git_server.head("config") == git(env_w, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert git_server.push_count == 1


def test_wrong_token_is_an_authentication_failure(git_server, tmp_path):
    git_server.create_repo("config")
    bad = "not-the-token-1234"
    env = client(tmp_path, git_server, "writer", token=bad)
    proc = git(env, "clone", git_server.url("config"), str(tmp_path / "c"), check=False)
    assert proc.returncode == 128
    assert "Authentication failed" in proc.stderr
    assert bad not in proc.stderr
    assert not (tmp_path / "c").exists()


def test_non_fast_forward_push_is_rejected(git_server, tmp_path):
    git_server.create_repo("config", CONFIG_FILES)
    env = client(tmp_path, git_server, "writer")
    a, b = tmp_path / "a", tmp_path / "b"
    git(env, "clone", "-q", git_server.url("config"), str(a))
    git(env, "clone", "-q", git_server.url("config"), str(b))
    commit_file(env, a, "a.txt", "a\n", "from a")
    git(env, "push", "-q", "origin", "main", cwd=a)
    landed = git_server.head("config")

    commit_file(env, b, "b.txt", "b\n", "from b")
    proc = git(env, "push", "--porcelain", "origin", "main", cwd=b, check=False)
    assert proc.returncode == 1
    assert "[rejected] (fetch first)" in proc.stdout
    # forcing does not help: the server refuses non-fast-forwards (receive.denyNonFastForwards)
    git(env, "fetch", "-q", "origin", cwd=b)
    proc = git(env, "push", "--porcelain", "--force", "origin", "main", cwd=b, check=False)
    assert proc.returncode == 1
    assert "[remote rejected] (non-fast-forward)" in proc.stdout
    assert git_server.head("config") == landed


def test_large_push_is_chunked_and_large_fetch_request_is_gzipped(git_server, tmp_path):
    git_server.create_repo("config", CONFIG_FILES)
    env = client(tmp_path, git_server, "writer")
    work = tmp_path / "w"
    git(env, "clone", "-q", git_server.url("config"), str(work))
    blob = random.Random(7).randbytes(3 * 1024 * 1024)  # incompressible, > http.postBuffer
    (work / "model.bin").write_bytes(blob)
    git(env, "add", "model.bin", cwd=work)
    git(env, "commit", "-q", "-m", "big", cwd=work)
    for i in range(40):  # 40 branches on distinct commits: 40 "want" lines > 1 KiB
        git(env, "commit", "-q", "--allow-empty", "-m", f"b{i}", cwd=work)
        git(env, "branch", f"b{i}", cwd=work)
    git(env, "push", "-q", "origin", "--all", cwd=work)
    pushes = [r for r in git_server.requests
              if r.method == "POST" and r.service == "git-receive-pack"]
    assert any(r.chunked and r.request_bytes > 3 * 1024 * 1024 for r in pushes)
    assert git_server.git("config", "cat-file", "-s", "main:model.bin").strip() == str(len(blob))

    git_server.clear_log()
    git(env, "clone", "-q", git_server.url("config"), str(tmp_path / "again"))
    assert (tmp_path / "again/model.bin").read_bytes() == blob
    assert any(r.content_encoding == "gzip" and r.service == "git-upload-pack"
               for r in git_server.requests)


def test_injected_failures_and_delays(git_server, tmp_path):
    git_server.create_repo("config")
    env = client(tmp_path, git_server, "writer")
    git_server.fail_next(1, 503, service="git-upload-pack", retry_after=1)
    proc = git(env, "clone", git_server.url("config"), str(tmp_path / "c1"), check=False)
    assert proc.returncode == 128
    assert "The requested URL returned error: 503" in proc.stderr
    assert [r.status for r in git_server.requests if r.injected] == [503]
    git(env, "clone", "-q", git_server.url("config"), str(tmp_path / "c2"))  # fault used up

    git_server.delay_next(1, 0.5, service="git-receive-pack")
    commit_file(env, tmp_path / "c2", "x.txt", "x\n", "x")
    start = time.monotonic()
    git(env, "push", "-q", "origin", "main", cwd=tmp_path / "c2")
    assert time.monotonic() - start >= 0.5
    assert git_server.push_count == 1

    # the push lands, but the client only sees a 502: it must find out by fetching
    git_server.fail_next(1, 502, service="git-receive-pack", method="POST", lose_response=True)
    commit_file(env, tmp_path / "c2", "y.txt", "y\n", "y")
    proc = git(env, "push", "origin", "main", cwd=tmp_path / "c2", check=False)
    assert proc.returncode != 0
    assert "502" in proc.stderr
    assert git_server.head("config") == \
        git(env, "rev-parse", "HEAD", cwd=tmp_path / "c2").stdout.strip()
    lost = [r for r in git_server.requests if r.injected and r.status == 502]
    assert len(lost) == 1 and lost[0].backend_status == 200 and lost[0].refs_ok
    assert git_server.push_count == 2


def test_close_stops_serving(tmp_path):
    server = GitHttpServer(tmp_path / "root", users={"u": ("t", "write")}).start()
    server.create_repo("config")
    url = server.url("config")
    env = git_client_env(tmp_path / "home", "u", "t")
    git(env, "ls-remote", url)
    server.close()
    proc = git(env, "ls-remote", url, check=False)
    assert proc.returncode == 128
    server.close()  # idempotent


def test_parse_report_status_plain_and_sideband():
    def pkt(data: bytes) -> bytes:
        return b"%04x" % (len(data) + 4) + data

    inner = pkt(b"unpack ok\n") + pkt(b"ok refs/heads/a\n") + \
        pkt(b"ng refs/heads/main failed to update ref\n") + b"0000"
    assert parse_report_status(inner) == (["refs/heads/a"], [("refs/heads/main",
                                                              "failed to update ref")])
    banded = pkt(b"\x02remote: hi\n") + pkt(b"\x01" + inner) + b"0000"
    assert parse_report_status(banded) == parse_report_status(inner)


@pytest.mark.timeout(120)  # the deadlock guard; ~15 s on an idle 2-CPU machine
def test_twenty_racing_pushers_all_land_linearly(git_server, tmp_path):
    """20 clients clone, commit and push at once; losers fetch, reset, re-commit and retry."""
    git_server.create_repo("config", CONFIG_FILES)
    initial = git_server.head("config")
    url = git_server.url("config")
    rejections: list[str] = []
    attempts: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker(i: int) -> None:
        env = client(tmp_path, git_server, "writer")
        work = tmp_path / f"w{i}"
        git(env, "clone", "-q", "--depth", "1", "--single-branch", url, str(work))
        barrier.wait(timeout=30)
        rng = random.Random(i)
        for attempt in range(1, 60):
            commit_file(env, work, f"apps/app{i}/production/values.yaml",
                        f"image: registry.example/app{i}:v{attempt}\n", f"promote app{i}")
            proc = git(env, "push", "--porcelain", "origin", "main", cwd=work, check=False)
            if proc.returncode == 0:
                with lock:
                    attempts.append(attempt)
                return
            with lock:
                rejections.extend(line for line in proc.stdout.splitlines()
                                  if line.startswith("!"))
                if not proc.stdout.strip():
                    rejections.append(proc.stderr.strip())
            # jittered backoff *before* fetching, so the retry starts from the freshest head;
            # then re-apply on the new head: no rebase, no merge, never force
            time.sleep(rng.uniform(0, min(1.5, 0.05 * 2 ** attempt)))
            git(env, "fetch", "-q", "--depth", "1", "origin", "main", cwd=work)
            git(env, "reset", "-q", "--hard", "FETCH_HEAD", cwd=work)
        raise AssertionError(f"worker {i} never landed")

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        for future in [pool.submit(worker, i) for i in range(20)]:
            future.result()
    elapsed = time.monotonic() - start

    commits = git_server.git("config", "rev-list", "--first-parent", "main").split()
    assert len(commits) == 21 and commits[-1] == initial
    assert git_server.git("config", "rev-list", "--min-parents=2", "main") == ""  # no merges
    tree = git_server.git("config", "ls-tree", "-r", "--name-only", "main").split()
    for i in range(20):
        assert f"apps/app{i}/production/values.yaml" in tree
    assert git_server.push_count == 20
    # every failed attempt was a normal git rejection, never a transport error
    assert all("rejected" in r for r in rejections), rejections
    print(f"\n20 pushers: {elapsed:.1f}s, {sum(attempts)} push attempts, "
          f"rejections seen: {sorted({r.split(chr(9))[-1] for r in rejections})}")
