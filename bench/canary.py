"""Benchmark: what a canary costs beyond the promotions and waits it is made of.

Prints, measured in this one run, against the same stand-ins for both arms (the config repo on
the loopback smart-HTTP git server, tests/support/gitserver.py; KServe's controller,
tests/standins/kserve_controller.py, applying each new head to the Kubernetes API stand-in; Argo
CD's API stand-in reporting the commit KServe applied, tests/standins/argocd_controller.py):
- plain: 4 `mlgate promote` (the first setting the image, each one canaryTrafficPercent with
  --set) each followed by `mlgate wait-sync` on the Application and the InferenceService;
- canary: one `mlgate canary --steps 1,5,25,100 --pause 0s` waiting on the same resources;
both in process, as the median of --repeat runs (arms alternated, each run on a fresh repo and
controllers, set up outside the clock). Targets: canary <= 1.5 x plain, and the overhead per
step (canary - plain) / 4 <= 0.3 s. Also where each arm's time goes: the promotions (clone,
rewrite, commit, push), the waits, the canary's read of the environment's history (is a
canary open?) and the rest (parsing the options, the reports). Exit 1 when a target is
missed.
Not a timed test: run `python bench/canary.py [--repeat N]` with the dev extra installed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import yaml  # noqa: E402
from standins.argocd_api import TOKEN as ARGO_TOKEN  # noqa: E402
from standins.argocd_api import ArgoCdStandIn  # noqa: E402
from standins.argocd_controller import Controller  # noqa: E402
from standins.kserve_controller import KServeController, git_show  # noqa: E402
from standins.kube_api import KubeApiStandIn  # noqa: E402
from support.gitserver import GitHttpServer  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
NS = "churn-staging"
FILE = "inferenceservice.yaml"
PATH = f"apps/churn/staging/{FILE}"
IMG = "registry.example.com/ml/churn"
STEPS = (1, 5, 25, 100)
RATIO, PER_STEP = 1.5, 0.3
# the controllers' own delays, the same for both arms: KServe applies a head DELAY after the
# branch moved, a new revision is ready READY later, Argo CD reports the applied commit
# SYNC later; wait-sync reads every INTERVAL
DELAY, READY, SYNC, POLL, INTERVAL = 0.05, 0.2, 0.1, 0.02, "0.1s"
MANIFEST = yaml.safe_dump({
    "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
    "metadata": {"name": "churn", "namespace": NS},
    # the share already there, as an integer: --set replaces it keeping its type (a key it
    # adds is a string, which KServe's CRD refuses); both arms start from this same file
    "spec": {"predictor": {"canaryTrafficPercent": 100,
                           "containers": [{"name": "kserve-container",
                                           "image": f"{IMG}:v1.4.0"}]}}}, sort_keys=False)


class Cluster:
    """One fresh config repo with KServe and Argo CD following it."""

    def __init__(self, stack: ExitStack, git: GitHttpServer, argo: ArgoCdStandIn, name: str,
                 work: Path) -> None:
        git.create_repo(name, {PATH: MANIFEST})
        kube = stack.enter_context(KubeApiStandIn())   # the InferenceService from scratch
        self.url = git.url(name)
        self.isvc = stack.enter_context(KServeController(
            kube, lambda: git.head(name), git_show(git.path(name)), path=PATH, delay=DELAY,
            ready_delay=READY, poll=POLL))
        self.argo = stack.enter_context(Controller(argo, lambda: self.isvc.seen, app=name,
                                                   delay=SYNC, poll=POLL))
        self.name, self.work = name, work
        self.env = {"PATH": os.environ["PATH"], "HOME": str(work), "MLGATE_CI": "quiet",
                    "NO_PROXY": "127.0.0.1", "ARGOCD_SERVER": argo.url,
                    "ARGOCD_AUTH_TOKEN": ARGO_TOKEN, "MLGATE_GIT_TOKEN": TOKEN,
                    "MLGATE_GIT_USERNAME": "writer",
                    "KUBECONFIG": str(kube.write_kubeconfig(work / f"{name}.kubeconfig"))}
        self.common = ["--repo", self.url, "--app", "churn", "--path", "apps/churn",
                       "--environment", "staging"]
        self.controller = ["--argocd-app", name, "--workload", f"inferenceservice/{NS}/churn"]

    def run(self, argv: list[str]) -> dict:
        from mlgate.cli import main

        out = self.work / f"{self.name}-{time.monotonic_ns()}.json"
        code = main([*argv, "--json", str(out)], environ=self.env)
        doc = json.loads(out.read_text()) if out.exists() else {}
        if code != 0:
            sys.exit(f"`mlgate {argv[0]}` exit {code}: {doc.get('verdict', '')}")
        return doc


def plain(cluster: Cluster) -> float:
    started = time.perf_counter()
    for share in STEPS:
        doc = cluster.run(["promote", *cluster.common, "--image", f"{IMG}:v1.5.0", "--set",
                           f"{FILE}:spec.predictor.canaryTrafficPercent={share}"])
        cluster.run(["wait-sync", *cluster.controller, "--revision", doc["outputs"]["commit"],
                     "--interval", INTERVAL, "--timeout", "60s"])
    return time.perf_counter() - started


def canary(cluster: Cluster) -> float:
    started = time.perf_counter()
    doc = cluster.run(["canary", *cluster.common, *cluster.controller, "--image",
                       f"{IMG}:v1.5.0", "--steps", ",".join(map(str, STEPS)), "--pause", "0s",
                       "--sync-interval", INTERVAL, "--sync-timeout", "60s"])
    assert doc["outputs"]["outcome"] == "completed", doc["outputs"]
    return time.perf_counter() - started


@contextmanager
def timing(spent: dict[str, float]) -> Iterator[None]:
    """Add each call's seconds of the canary's building blocks to `spent`, by name."""
    import mlgate.cluster.run as cluster_run
    import mlgate.promote.history as history
    import mlgate.promote.promote as promote
    import mlgate.promote.rollback as rollback

    def timed(module, name: str, label: str) -> Callable[[], None]:
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - began
        setattr(module, name, wrapper)
        return lambda: setattr(module, name, real)

    undo = [timed(promote, "promote", "promote"), timed(cluster_run, "wait_sync", "wait-sync"),
            timed(history, "read_history", "history"),
            timed(rollback, "rollback", "rollback")]
    try:
        yield
    finally:
        for restore in undo:
            restore()


def run_arms(repeat: int, work: Path) -> dict[str, list[dict[str, float]]]:
    """{arm: per run {part: seconds}}, the commands' own output swallowed."""
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "canary": []}
    with ExitStack() as top:
        git = top.enter_context(GitHttpServer(work / "git", {"writer": (TOKEN, "write")}))
        argo = top.enter_context(ArgoCdStandIn())
        for r in range(repeat):
            for arm in ("plain", "canary") if r % 2 == 0 else ("canary", "plain"):
                with ExitStack() as stack:
                    cluster = Cluster(stack, git, argo, f"{arm}-{r}", work)
                    spent: dict[str, float] = defaultdict(float)
                    with timing(spent), open(os.devnull, "w") as sink, \
                            redirect_stdout(sink), redirect_stderr(sink):
                        took = (plain if arm == "plain" else canary)(cluster)
                    runs[arm].append({**spent, "total": took})
    return runs


def breakdown(runs: list[dict[str, float]]) -> str:
    parts = ("promote", "wait-sync", "history")
    median = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in parts}
    rest = statistics.median(r["total"] - sum(r.get(k, 0.0) for k in parts) for r in runs)
    return (f"promotions {median['promote']:.3f} s, waits {median['wait-sync']:.3f} s, "
            f"history reads {median['history']:.3f} s, the rest {rest:.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-canary-") as tmp:
        runs = run_arms(args.repeat, Path(tmp))
    times = {arm: [r["total"] for r in done] for arm, done in runs.items()}
    base, took = statistics.median(times["plain"]), statistics.median(times["canary"])
    ratio, per_step = took / base, (took - base) / len(STEPS)
    fast, light = ratio <= RATIO, per_step <= PER_STEP
    for arm, what in (("plain", "4 x (`mlgate promote` + `mlgate wait-sync`)"),
                      ("canary", "`mlgate canary --steps 1,5,25,100 --pause 0s`")):
        print(f"{what}: {statistics.median(times[arm]):.3f} s (median of {args.repeat}: "
              f"{', '.join(f'{t:.3f}' for t in times[arm])})\n    {breakdown(runs[arm])}")
    print(f"ratio {ratio:.2f} (target <= {RATIO})  {'OK' if fast else 'MISSED'}; overhead per "
          f"step {per_step:+.3f} s (target <= {PER_STEP} s)  {'OK' if light else 'MISSED'}")
    return 0 if fast and light else 1


if __name__ == "__main__":
    raise SystemExit(main())
