"""Benchmark: `mlgate history`, `status`, `metrics` and `audit` over a 100k-commit config repo.

Builds a synthetic config repo with `git fast-import` (100,000 commits on main, of which 5,000
are mlgate records across 50 apps x 3 environments: promotions with evidence trailers, some
rollbacks and canary steps, each with the two-line wait-sync and verify note those commands
record under refs/notes/mlgate; the rest ordinary commits), then prints, measured in this one
run:
- one plain `git log --format=%H%x00%ct%x00%B` over the whole branch (the floor any reader of
  the history pays);
- `mlgate history APP`, `mlgate status` and `mlgate metrics` (every app), run in process as
  the CLI runs them, and their ratios to that git log (targets: history and metrics <= 2 s
  and <= 1.5x; status <= 0.5 s), with what metrics' second, path-limited `git log` (the
  automation rate) cost within it;
- `mlgate status --all-history` (no early stop) and `mlgate audit COMMIT` of a real promotion
  with three gates' evidence made into that repo (target <= 0.3 s);
- peak memory (resource.getrusage: this process, and its largest git child).
Exit 1 when a target is missed. Not a timed test: run `python bench/audit.py [--commits N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from mlgate.cli import main as mlgate  # noqa: E402

APPS, ENVIRONMENTS = 50, ("dev", "staging", "production")
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "PATH": os.environ["PATH"]}
HISTORY_SECONDS, HISTORY_RATIO, STATUS_SECONDS, AUDIT_SECONDS, PEAK_MB = 2.0, 1.5, 0.5, 0.3, 200
METRICS_SECONDS, METRICS_RATIO = 2.0, 1.5


KUSTOMIZATION = ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                 "images:\n  - name: registry.example.com/ml/bench\n    newTag: v1\n")


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _message(n: int, app: int, env: str, version: int, when: int) -> tuple[str, str, str]:
    """(subject + trailers, path, evidence folder) of the n-th mlgate record: every 40th a
    rollback of the promotion before it, every 25th a canary step, the rest plain promotions;
    each keeps its evidence folder in the repo, as mlgate's own records do."""
    image = f"registry.example.com/ml/app{app}"
    folder = f"apps/app{app}/{env}"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    evidence = f".mlgate/evidence/app{app}/{env}/{stamp}-{n % 0xffffff:06x}"
    lines = [f"Mlgate-App: app{app}", f"Mlgate-Environment: {env}", f"Mlgate-Folder: {folder}",
             f"Mlgate-Evidence-Dir: {evidence}"]
    if n % 40 == 39:
        lines += [f"Mlgate-Previous: {image}:v{version}", f"Mlgate-New: {image}:v{version - 1}",
                  f"Mlgate-Rollback-Of: {'0' * 40}", "Mlgate-Rollback-Reason: error-rate 0.03"]
        subject = f"rollback app{app} in {env}: v{version} -> v{version - 1}"
    else:
        lines += [f"Mlgate-Previous: {image}:v{version - 1}", f"Mlgate-New: {image}:v{version}"]
        lines += [f"Mlgate-Evidence-Sha256: {format(n * 7 + g, '064x')} {gate}.json"
                  for g, gate in enumerate(("validate", "benchmark", "scan"))]
        lines += [f"Mlgate-Source: https://git.example.com/ml/app{app}@{format(n, '040x')}",
                  "Mlgate-Source-Time: " + time.strftime(
                      "%Y-%m-%dT%H:%M:%SZ", time.gmtime(when - 600 * (1 + n % 300))),
                  f"Mlgate-Run: https://ci.example.com/runs/{n}",
                  f"Mlgate-Registry: app{app}@{env} {version - 1} -> {version}"]
        if n % 25 == 24:
            lines += ["Mlgate-Canary: 1/4", f"Mlgate-Canary-Id: c{n}", "Mlgate-Canary-Weight: 1"]
        subject = f"promote app{app} to {env}: v{version - 1} -> v{version}"
    return (subject + "\n\n" + "\n".join(lines) + "\n", f"{folder}/kustomization.yaml",
            evidence)


def build(repo: Path, commits: int, records: int) -> None:
    """The repo, through one fast-import stream (seconds, where 100k `git commit`s take hours)."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True,
                   env=GIT_ENV)
    every = commits // records
    stream = io.BytesIO()
    start, record = 1_700_000_000, 0
    marks: list[tuple[int, int]] = []  # (mark, time) of each record: its wait-sync/verify note
    for i in range(commits):
        when = start + i * 60
        if i % every == every - 1 and record < records:
            app, env = record % APPS, ENVIRONMENTS[(record // APPS) % len(ENVIRONMENTS)]
            message, path, evidence = _message(record, app, env, 2 + record // (APPS * 3), when)
            author = "mlgate <mlgate@users.noreply.localhost>"
            record += 1
            marks.append((i + 1, when))
        else:
            message, path = f"docs: note {i}\n\nan ordinary edit\n", f"notes/n{i % 100}.txt"
            evidence = None
            author = f"dev{i % 7} <dev{i % 7}@example.com>"
        stream.write(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        stream.write(f"author {author} {when} +0000\ncommitter {author} {when} +0000\n".encode())
        stream.write(_data(message))
        if i:
            stream.write(b"from :%d\n" % i)
        stream.write(f"M 644 inline {path}\n".encode() + _data(f"rev: {i}\n"))
        if evidence:
            stream.write(f"M 644 inline {evidence}/summary.md\n".encode() + _data(f"# {i}\n"))
        if i == 0:  # the app a real `mlgate promote` promotes, for the audit's measure
            stream.write(b"M 644 inline apps/bench/production/kustomization.yaml\n"
                         + _data(KUSTOMIZATION))
        stream.write(b"\n")
    # what wait-sync and verify record on every promotion (mlgate.audit.outcome): one notes
    # commit on refs/notes/mlgate holding a two-line note per record
    last = start + commits * 60
    stream.write(f"commit refs/notes/mlgate\ncommitter mlgate <m@example.com> {last} +0000\n"
                 .encode() + _data("Notes added by 'git notes append'\n"))
    for mark, when in marks:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when + 120))
        done = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when + 600))
        stream.write(f"N inline :{mark}\n".encode() + _data(
            f"wait-sync Healthy {stamp} https://ci.example/runs/{mark}\n\n"
            f"verify Successful {done} https://ci.example/runs/{mark}\n"))
    stream.write(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream.getvalue(),
                   check=True, env=GIT_ENV)


def best(seconds: list[float]) -> float:
    return min(seconds)


def timed_git_log(repo: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["git", "log", "--format=%H%x00%ct%x00%B", "main"], cwd=repo, check=True,
                   capture_output=True, env=GIT_ENV)
    return time.perf_counter() - start


def timed_mlgate(argv: list[str], json_path: Path) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = mlgate([*argv, "--json", str(json_path)], environ={"PATH": os.environ["PATH"]})
    elapsed = time.perf_counter() - start
    if code != 0:
        sys.exit(f"`mlgate {' '.join(argv)}` exit {code}")
    return elapsed


def promote_once(repo: Path, tmp: Path) -> tuple[str, float]:
    """A real `mlgate promote` with three gates' evidence into the big repo: the commit the
    audit is measured on (its own time printed too)."""
    files = []
    for gate in ("validate", "benchmark", "scan"):
        path = tmp / f"{gate}.json"
        path.write_text(json.dumps({"command": gate, "verdict": "passed", "exit_code": 0,
                                    "title": gate, "result": {"rows": list(range(2000))}}))
        files += ["--evidence", str(path)]
    start = time.perf_counter()
    timed_mlgate(["promote", "--repo", str(repo), "--app", "bench", "--path", "apps/bench",
                  "--environment", "production", "--image",
                  "registry.example.com/ml/bench:v2", *files], tmp / "promote.json")
    elapsed = time.perf_counter() - start
    sha = subprocess.run(["git", "rev-parse", "main"], cwd=repo, check=True, text=True,
                         capture_output=True, env=GIT_ENV).stdout.strip()
    return sha, elapsed


def timed_cli(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlgate", *argv], capture_output=True,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src")})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"`mlgate {' '.join(argv)}` exit {proc.returncode}: {proc.stderr[-300:]!r}")
    return elapsed


def run(commits: int, records: int, rounds: int) -> int:
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-audit-") as tmp:
        repo = Path(tmp) / "config.git"
        start = time.perf_counter()
        build(repo, commits, records)
        print(f"built {commits} commits ({records} mlgate records, {APPS} apps x "
              f"{len(ENVIRONMENTS)} environments) in {time.perf_counter() - start:.1f} s")
        out = Path(tmp) / "out.json"
        timed_mlgate(["status", "--repo", str(repo)], out)  # warm: imports, page cache
        log = best([timed_git_log(repo) for _ in range(rounds)])
        history = best([timed_mlgate(["history", "app7", "--repo", str(repo)], out)
                        for _ in range(rounds)])
        listed = out.read_text().count('"commit":')
        status = best([timed_mlgate(["status", "--repo", str(repo)], out)
                       for _ in range(rounds)])
        rows = out.read_text().count('"environment":')
        verified = out.read_text().count('"kind": "verify"')
        whole = best([timed_mlgate(["status", "--repo", str(repo), "--all-history"], out)
                      for _ in range(rounds)])
        metrics = best([timed_mlgate(["metrics", "--repo", str(repo)], out)
                        for _ in range(rounds)])
        doc = json.loads(out.read_text())["result"]
        to_verified = doc["lead_time_to_verified"]["measured"]
        audited, promoted = promote_once(repo, Path(tmp))
        audit = best([timed_mlgate(["audit", audited, "--repo", str(repo)], out)
                      for _ in range(rounds)])
        checks = out.read_text().count('"status": "ok"')
        cli = best([timed_cli(["audit", audited, "--repo", str(repo)]) for _ in range(rounds)])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ok = (history <= HISTORY_SECONDS and history <= HISTORY_RATIO * log
          and status <= STATUS_SECONDS and audit <= AUDIT_SECONDS and own <= PEAK_MB
          and metrics <= METRICS_SECONDS and metrics <= METRICS_RATIO * log)
    print(f"git log --format=%H%x00%ct%x00%B: {log * 1000:.0f} ms (best of {rounds})")
    print(f"mlgate history app7: {history * 1000:.0f} ms, {history / log:.2f}x the git log "
          f"({listed} records; target <= {HISTORY_SECONDS:.1f} s and <= {HISTORY_RATIO}x)")
    print(f"mlgate status: {status * 1000:.0f} ms, {status / log:.2f}x the git log "
          f"({rows} rows, {verified} with a recorded verify; target <= {STATUS_SECONDS} s)")
    print(f"mlgate status --all-history: {whole * 1000:.0f} ms, {whole / log:.2f}x the git log "
          "(the whole history read, no early stop)")
    print(f"mlgate audit COMMIT: {audit * 1000:.0f} ms in process, {cli * 1000:.0f} ms as a "
          f"new `mlgate` process ({checks} checks ok; target <= {AUDIT_SECONDS} s); the "
          f"promotion it audits took {promoted:.2f} s")
    print(f"mlgate metrics: {metrics * 1000:.0f} ms, {metrics / log:.2f}x the git log "
          f"({len(doc['deployments'])} deployments, {len(doc['weeks'])} weeks; of it the "
          f"automation rate's path-limited git log {doc['automation']['seconds'] * 1000:.0f} ms "
          f"over {len(doc['automation']['folders'])} folders; lead time to verified "
          f"measured for {to_verified}; target <= "
          f"{METRICS_SECONDS:.1f} s and <= {METRICS_RATIO}x)")
    print(f"peak memory: {own:.0f} MB this process (target <= {PEAK_MB} MB), "
          f"{child:.0f} MB the largest git child")
    print("within targets" if ok else "OVER TARGET")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    return run(args.commits, args.records, args.rounds)


if __name__ == "__main__":
    raise SystemExit(main())
