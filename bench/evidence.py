"""Benchmark: what keeping the evidence in the config repo adds to a promotion.

Two arms, the same promotion (the example config repo, `mlgate promote` of a new image to
production with three gates' evidence: validate, benchmark and scan results of realistic
sizes), each in a fresh `python -m mlgate` process against its own fresh bare repo:
- before: mlgate's source as of the commit before evidence was kept in the repo (the first
  parent of the merge that brought it, 0412baa), exported with `git archive` into a temp dir;
- now: this checkout, which also writes `.mlgate/evidence/APP/ENV/ID/` (the three results,
  summary.md, the in-toto statement) in the same commit, and with --attestation-key a DSSE
  envelope (a third arm).
Prints the median of --repeat runs of each (arms alternated, repos built outside the clock)
and the ratios. Target: evidence adds <= 20 % to a promotion's time (the signed arm is shown
beside it: --attestation-key is opt-in and mostly costs importing cryptography). Exit 1 when
missed.
Not a timed test: run `python bench/evidence.py [--repeat N]` in a git clone of mlgate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "0412baa^1"
TARGET = 1.20
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
           "PATH": os.environ["PATH"]}


def export_before(dest: Path) -> Path:
    """mlgate's src/ as of BEFORE, without touching this checkout."""
    archive = subprocess.run(["git", "archive", "--format=tar", BEFORE, "src"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    tar = dest / "before.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as handle:
        handle.extractall(dest / "before", filter="data")
    return dest / "before" / "src"


def bare_repo(tmp: Path, n: int) -> Path:
    work = tmp / f"work-{n}"
    shutil.copytree(ROOT / "examples" / "config-repo", work)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=work, check=True, env=GIT_ENV)
    bare = tmp / f"config-{n}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True,
                   env=GIT_ENV)
    shutil.rmtree(work)
    return bare


def evidence_files(tmp: Path) -> list[str]:
    """Three results of the sizes the gates write on the demo: a few KB to a few hundred."""
    sizes = {"validate": 40_000, "benchmark": 120_000, "scan": 300_000}
    out = []
    for gate, size in sizes.items():
        rows = [{"id": i, "check": f"{gate}-{i}", "passed": True} for i in range(size // 45)]
        path = tmp / f"{gate}.json"
        path.write_text(json.dumps({"command": gate, "verdict": "passed", "exit_code": 0,
                                    "title": gate, "result": {"rows": rows}}))
        out += ["--evidence", str(path)]
    return out


def attestation_key(tmp: Path) -> list[str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp / "attest.pem"
    path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ["--attestation-key", str(path)]


def promote(src: Path, bare: Path, extra: list[str]) -> float:
    argv = [sys.executable, "-m", "mlgate", "promote", "--repo", str(bare), "--app", "churn",
            "--path", "apps/churn", "--environment", "production", "--image",
            "registry.example.com/ml/churn:v1.5.0", *extra]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(src), "HOME": os.environ["HOME"]}
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"promote with {src} exit {proc.returncode}: {proc.stderr[-400:]!r}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-evidence-") as name:
        tmp = Path(name)
        before_src, now_src = export_before(tmp), ROOT / "src"
        evidence = evidence_files(tmp)
        signed = evidence + attestation_key(tmp)
        arms = {"before": (before_src, evidence), "now": (now_src, evidence),
                "now, signed": (now_src, signed)}
        times: dict[str, list[float]] = {arm: [] for arm in arms}
        promote(now_src, bare_repo(tmp, 0), evidence)  # warm: imports, page cache
        n = 1
        for _ in range(args.repeat):
            for arm, (src, extra) in arms.items():
                bare = bare_repo(tmp, n)
                n += 1
                times[arm].append(promote(src, bare, extra))
        kept = subprocess.run(["git", "ls-tree", "-r", "--name-only", "main", "--",
                               ".mlgate/evidence"], cwd=bare, check=True, text=True,
                              capture_output=True, env=GIT_ENV).stdout.split()
    med = {arm: statistics.median(values) for arm, values in times.items()}
    ratio, signed_ratio = med["now"] / med["before"], med["now, signed"] / med["before"]
    for arm, value in med.items():
        print(f"{arm:12s} median {value * 1000:6.0f} ms over {args.repeat} promotions "
              f"(min {min(times[arm]) * 1000:.0f}, max {max(times[arm]) * 1000:.0f})")
    print(f"evidence kept: {len(kept)} files ({', '.join(p.rsplit('/', 1)[-1] for p in kept)})")
    print(f"evidence adds {100 * (ratio - 1):+.1f} % (ratio {ratio:.3f}), signed "
          f"{100 * (signed_ratio - 1):+.1f} % (ratio {signed_ratio:.3f}); target <= "
          f"{100 * (TARGET - 1):.0f} %")
    ok = ratio <= TARGET  # the target is the evidence's; signing is reported beside it
    print("within target" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
