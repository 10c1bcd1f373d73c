"""Benchmark: how fast `mlgate wait-sync` notices a controller turning healthy and how gently it
asks; whether `mlgate verify` keeps its schedule; and how light both commands' --help is.

Prints, measured in this one run:
- Argo CD (REST API stand-in) and Flux (Kubernetes API stand-in, through the real `kubernetes`
  client): the delay between the stand-in turning synced and healthy and wait-sync returning
  (target <= interval + 0.2 s), and the most requests to one resource within any interval-long
  window (target <= 1, counted by the stand-in);
- `mlgate verify` against a real Prometheus (Debian's `prometheus`, tests/support/prometheus.py)
  scraping a loopback exporter, run as users run it (the `mlgate` script in a fresh process,
  locally, in a GitHub Actions job, in a GitLab job): the wall time from starting the process to
  its exit, nothing subtracted, against initial-delay + count x interval (target: within
  0.3 s, every measurement taken, exit 0);
- the modules `mlgate wait-sync --help` and `mlgate verify --help` import: none of HEAVY (the ML
  packages, the cluster and forge clients), and their median wall time (target < 100 ms).
Not a timed test: run `python bench/closed_loop.py [--interval SECONDS]` with the dev extra.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from standins.argocd_api import TOKEN, ArgoCdStandIn, app_status, application  # noqa: E402
from standins.kube_api import KubeApiStandIn, condition  # noqa: E402
from support.prometheus import JOB, Exporter, PrometheusServer  # noqa: E402

OLD = "1" * 40
SHA = "a" * 40
HEAVY = ("numpy", "pandas", "sklearn", "scipy", "mlflow", "great_expectations", "pyspark",
         "torch", "kubernetes", "github", "gitlab")
MLGATE = Path(sys.executable).parent / "mlgate"   # the script users run
LATE = 0.3        # verify may end this much after initial-delay + count x interval
HELP_REPEAT = 7
VERIFY_REPEAT = 3
ONE = "name=one,query=vector(1),min=1"   # needs no scraped data
# (where it runs, checks, initial delay, count, interval, reports)
VERIFY_RUNS = (
    ("local", (ONE,), "1s", 5, "1s", ()),
    ("github", (ONE,), "0s", 4, "0.5s", ("--report", "verify.md")),
    ("gitlab", ("error-rate:max=1%", "p95-latency:max=500ms"), "2s", 2, "1.5s",
     ("--junit", "verify.xml", "--metrics-file", "verify.prom")),
)


def wait_sync(args: list[str], environ: dict[str, str], out: Path) -> tuple[int, float]:
    from mlgate.cli import main

    env = {"PATH": os.environ["PATH"], "HOME": str(out.parent), "MLGATE_CI": "quiet",
           "NO_PROXY": "127.0.0.1", **environ}
    code = main(["wait-sync", "--json", str(out), *args], environ=env)
    return code, time.monotonic()


def argocd(interval: float, healthy_after: float, work: Path) -> dict[str, float]:
    with ArgoCdStandIn() as server:
        server.put("churn", application("churn", OLD))
        # the old revision now, the new one progressing, then synced and healthy
        server.timeline("churn", [app_status(OLD), app_status(SHA, health="Progressing"),
                                  app_status(SHA)], advance=healthy_after / 2)
        code, ended = wait_sync(["--revision", SHA, "--argocd-app", "churn", "--interval",
                                 f"{interval}", "--timeout", "60s"],
                                {"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": TOKEN},
                                work / "argocd.json")
        server.advance_due()
        healthy_at = server.changes[-1].at
        return {"exit": code, "delay": ended - healthy_at,
                "window": server.max_in_window(server.app_path("churn"), interval, "GET"),
                "requests": server.count_app("churn")}


def flux(interval: float, healthy_after: float, work: Path) -> dict[str, float]:
    def status(revision: str, ready: str, generation: int) -> dict:
        return {"status": {"observedGeneration": generation,
                           "lastAppliedRevision": f"main@sha1:{revision}",
                           "lastAttemptedRevision": f"main@sha1:{revision}",
                           "conditions": [condition("Ready", ready, "ReconciliationSucceeded"
                                                    if ready == "True" else "Progressing",
                                                    observed_generation=generation)]}}

    with KubeApiStandIn() as server:
        server.put("Kustomization", "flux-system", "churn",
                   {"spec": {"interval": "5m", "path": "./apps/churn"},
                    **status(OLD, "True", 1)})
        gen = server.get("Kustomization", "flux-system", "churn")["metadata"]["generation"]
        server.timeline("Kustomization", "flux-system", "churn",
                        [status(OLD, "True", gen), status(SHA, "Unknown", gen),
                         status(SHA, "True", gen)], advance=healthy_after / 2)
        kubeconfig = server.write_kubeconfig(work / "kubeconfig")
        code, ended = wait_sync(["--revision", SHA, "--flux-kustomization",
                                 "flux-system/churn", "--interval", f"{interval}",
                                 "--timeout", "60s"], {"KUBECONFIG": str(kubeconfig)},
                                work / "flux.json")
        server.advance_due()
        changes = server.changes_of("Kustomization", "flux-system", "churn")
        path = server.path("Kustomization", "flux-system", "churn")
        return {"exit": code, "delay": ended - changes[-1].at,
                "window": server.max_in_window(path, interval, "GET"),
                "requests": server.count(path, "GET")}


def seconds(text: str) -> float:
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))


def ci_environ(kind: str, work: Path) -> dict[str, str]:
    """What a CI job of `kind` gives the process (files it writes into `work`)."""
    if kind == "github":
        for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
            (work / name).touch()
        return {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(work / "GITHUB_OUTPUT"),
                "GITHUB_STEP_SUMMARY": str(work / "GITHUB_STEP_SUMMARY")}
    if kind == "gitlab":
        return {"GITLAB_CI": "true"}
    return {}


def verify(url: str, kind: str, checks: tuple[str, ...], delay: str, count: int, interval: str,
           reports: tuple[str, ...], work: Path) -> dict[str, float]:
    """One `mlgate verify` in a fresh process, timed from its start to its exit."""
    work.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "NO_PROXY": "127.0.0.1",
           "PYTHONPATH": str(ROOT / "src"), **ci_environ(kind, work)}
    cmd = [str(MLGATE), "verify", "--prometheus", url,
           *(a for c in checks for a in ("--check", c)), "--namespace", "bench", "--app",
           "churn", "--initial-delay", delay, "--count", f"{count}", "--interval", interval,
           "--on-failure", "none", "--json", "verify.json", *reports]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    doc = json.loads((work / "verify.json").read_text())
    taken = min(len(c["measurements"]) for c in doc["result"]["checks"])
    return {"exit": proc.returncode, "wall": wall, "inside": doc["result"]["seconds"],
            "taken": taken}


def verify_runs(work: Path) -> bool:
    ok = True
    exporter = Exporter()
    exporter.start()
    try:
        with PrometheusServer(work / "prometheus", [exporter.address]) as prometheus:
            exporter.traffic("churn", "bench", rps=50, error_ratio=0.0, latency=0.1)
            # the first scrape comes ~5 s after the start (Prometheus throttles discovery)
            prometheus.wait_for(f'up{{job="{JOB}"}}', lambda vs: vs == [1.0], timeout=30)
            prometheus.wait_for('rate(http_requests_total{app="churn"}[1s])')
            for i, (kind, checks, delay, count, interval, reports) in enumerate(VERIFY_RUNS):
                expected = seconds(delay) + count * seconds(interval)
                runs = [verify(prometheus.url, kind, checks, delay, count, interval, reports,
                               work / f"verify-{i}-{r}") for r in range(VERIFY_REPEAT)]
                late = statistics.median(f["wall"] for f in runs) - expected
                worst = max(f["wall"] for f in runs) - expected
                exits = sorted({f["exit"] for f in runs})
                taken = min(f["taken"] for f in runs)
                inside = statistics.median(f["inside"] for f in runs)
                good = abs(late) <= LATE and exits == [0] and taken == count
                ok &= good
                print(f"`mlgate verify` {kind}, {len(checks)} check(s), --initial-delay {delay} "
                      f"--count {count} --interval {interval} (expected {expected:g} s):\n"
                      f"    process {expected + late:.3f} s, {late:+.3f} s (median of "
                      f"{VERIFY_REPEAT}, worst {worst:+.3f} s; target within {LATE} s)  "
                      f"{'OK' if good else 'MISSED'}; exit {'/'.join(map(str, exits))}, "
                      f"{taken}/{count} measurements; measuring {inside:.3f} s by its own clock")
    finally:
        exporter.stop()
    return ok


def help_imports(command: str) -> list[str]:
    code = ("import json, sys\nfrom mlgate.cli import main\n"
            f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    return [m for m in HEAVY if m in loaded]


def help_seconds(command: str) -> float:
    """The median wall time of `mlgate COMMAND --help` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    for _ in range(HELP_REPEAT):
        started = time.perf_counter()
        subprocess.run([str(MLGATE), command, "--help"], env=env, capture_output=True,
                       check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--healthy-after", type=float, default=3.0)
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    ok = True
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-loop-") as tmp:
        for name, run in (("Argo CD (REST API)", argocd), ("Flux Kustomization (kube API)",
                                                           flux)):
            figures = run(args.interval, args.healthy_after, Path(tmp))
            fast = figures["delay"] <= args.interval + 0.2
            gentle = figures["window"] <= 1
            ok &= fast and gentle and figures["exit"] == 0
            print(f"{name}: exit {figures['exit']}; healthy noticed after "
                  f"{figures['delay']:.3f} s (target <= interval {args.interval:g} + 0.2 s)  "
                  f"{'OK' if fast else 'MISSED'}; {figures['requests']} requests, at most "
                  f"{figures['window']} per {args.interval:g} s window (target <= 1)  "
                  f"{'OK' if gentle else 'MISSED'}")
        ok &= verify_runs(Path(tmp))
    for command in ("wait-sync", "verify"):
        heavy = help_imports(command)
        took = help_seconds(command)
        light, fast = not heavy, took < 0.1
        ok &= light and fast
        print(f"`mlgate {command} --help` imports: "
              f"{', '.join(heavy) if heavy else 'none of ' + ', '.join(HEAVY)}  "
              f"{'OK' if light else 'MISSED'}; median {took * 1000:.0f} ms of {HELP_REPEAT} "
              f"(target < 100 ms)  {'OK' if fast else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
