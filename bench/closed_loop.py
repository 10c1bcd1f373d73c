"""Benchmark: how fast `mlgate wait-sync` notices a controller turning healthy, and how gently it
asks.

Prints, measured in this one run:
- Argo CD (REST API stand-in) and Flux (Kubernetes API stand-in, through the real `kubernetes`
  client): the delay between the stand-in turning synced and healthy and wait-sync returning
  (target <= interval + 0.2 s), and the most requests to one resource within any interval-long
  window (target <= 1, counted by the stand-in);
- the modules `mlgate wait-sync --help` imports: no ML package (mlflow, great_expectations,
  sklearn, pyspark, pandas) and no cluster client (kubernetes).
`mlgate verify` is not built yet (issue #17), so its figures are not here.
Not a timed test: run `python bench/closed_loop.py [--interval SECONDS]` with the dev extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from standins.argocd_api import TOKEN, ArgoCdStandIn, app_status, application  # noqa: E402
from standins.kube_api import KubeApiStandIn, condition  # noqa: E402

OLD = "1" * 40
SHA = "a" * 40
HEAVY = ("mlflow", "great_expectations", "sklearn", "pyspark", "pandas", "kubernetes")


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


def help_imports() -> list[str]:
    code = ("import sys\nfrom mlgate.cli import main\n"
            "try:\n    main(['wait-sync', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1].replace("'", '"'))
    return [m for m in HEAVY if m in loaded]


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
    heavy = help_imports()
    ok &= not heavy
    print(f"`mlgate wait-sync --help` imports: "
          f"{', '.join(heavy) if heavy else 'no ML package, no kubernetes'}  "
          f"{'OK' if not heavy else 'MISSED'}")
    print("`mlgate verify`: not built yet (issue #17)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
