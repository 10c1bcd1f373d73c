"""`mlgate canary` live: the config repo on the loopback git server, Argo CD's API stand-in
following what the KServe stand-in applied (tests/standins/kserve_controller.py: a Serverless
InferenceService whose status splits the traffic by canaryTrafficPercent), wait-sync on the
InferenceService, and the checks against the session's real Prometheus.

Why here and not only on bare repos (test_canary_command.py): what a canary promises is what
the cluster serves after each commit (the new revision at its share, the stable one at the
rest, 0 % on the canary after an abort or a failed check) and that its checks judge the
revision that took the traffic. The check reads the model's accuracy per KServe revision
(`revision="{revision}"`), so only the new revision's series can fail a step.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from standins.argocd_api import TOKEN as ARGO_TOKEN
from standins.argocd_api import ArgoCdStandIn
from standins.argocd_api import argocd_api  # noqa: F401  (the fixture)
from standins.argocd_controller import Controller
from standins.kserve_controller import KServeController, git_show
from standins.kube_api import KubeApiStandIn
from standins.kube_api import kube_api  # noqa: F401  (the fixture)
from support.gitserver import GitHttpServer
from support.prometheus import Stack

from mlgate.cli import main

SRC = str(Path(__file__).resolve().parents[3] / "src")
REPO = "platform/config"
APP = "churn"
ENVIRONMENT = "staging"
PATH = "apps/churn/staging/inferenceservice.yaml"
IMG = "registry.example.com/ml/churn"
OLD, NEW = f"{IMG}:v1.4.0", f"{IMG}:v1.5.0"
REV1, REV2, REV3 = (f"churn-predictor-0000{n}" for n in (1, 2, 3))
FIELD = f"{PATH}:spec.predictor.canaryTrafficPercent"
GOOD, BAD = 0.95, 0.5
# the new revision's own accuracy: a custom check, so only its series decides
CHECK = ('name=canary-accuracy,query=max(mlgate_model_accuracy{namespace="{namespace}",'
         'app="{app}",revision="{revision}"}),min=0.9')


def manifest(namespace: str) -> str:
    """The InferenceService as the repo holds it before any canary: a container image (so a
    new image is a new Knative revision) and no canaryTrafficPercent."""
    return yaml.safe_dump({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": OLD}]}}},
        sort_keys=False)


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.02)


class EachCommit:
    """The branch as KServe's stand-in follows it: one commit at a time, in order (a cluster
    slower than the pushes would skip the commit that only sent the traffic to 0 %, as the
    rollback lands right after it; stepping through keeps what each commit serves checkable).
    A step named in `hold` (e.g. "2/4") is not applied until removed: a cluster that has
    not caught up yet."""

    def __init__(self, git: GitHttpServer) -> None:
        self.git = git
        self.hold: set[str] = set()
        self.applied = [git.head(REPO)]

    def __call__(self) -> str:
        pending = self.git.git(REPO, "rev-list", "--reverse", "--first-parent",
                               f"{self.applied[-1]}..main").split()
        if pending and not self.hold & set(trailers(self.git, pending[0]).get(
                "Mlgate-Canary", [])):
            self.applied.append(pending[0])
        return self.applied[-1]


def trailers(git: GitHttpServer, rev: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in git.git(REPO, "log", "-1", "--format=%(trailers:only,unfold)",
                        rev).splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            found.setdefault(key, []).append(value)
    return found


@dataclass
class Live:
    """One test's cluster and repo, and the traffic split the cluster settled on per commit
    (the last split seen while that commit was the one applied)."""

    git: GitHttpServer
    follow: EachCommit
    isvc: KServeController
    argo: Controller
    stack: Stack
    namespace: str
    env: dict[str, str]
    work: Path
    settled: dict[str, dict[str, int]] = field(default_factory=dict)

    def head(self) -> str:
        return self.git.head(REPO)

    def git_out(self, *args: str) -> str:
        return self.git.git(REPO, *args)

    def commits_since(self, base: str) -> list[str]:
        """Oldest first."""
        return self.git_out("rev-list", "--reverse", f"{base}..main").split()

    def trailers(self, rev: str) -> dict[str, list[str]]:
        return trailers(self.git, rev)

    def isvc_at(self, rev: str) -> dict:
        return yaml.safe_load(self.git_out("show", f"{rev}:{PATH}"))

    def percent(self, rev: str) -> int | None:
        return self.isvc_at(rev)["spec"]["predictor"].get("canaryTrafficPercent")

    def image(self, rev: str) -> str:
        return self.isvc_at(rev)["spec"]["predictor"]["containers"][0]["image"]

    def accuracy(self, revision: str, value: float) -> None:
        self.stack.exporter.accuracy(APP, self.namespace, value, revision=revision)

    def argv(self, *args: str, out: Path | None = None) -> list[str]:
        argv = ["canary", "--repo", self.git.url(REPO), "--app", APP, "--path", "apps/churn",
                "--environment", ENVIRONMENT,
                "--argocd-app", "churn-staging", "--argocd-server", self.argo.argo.url,
                "--workload", f"inferenceservice/{self.namespace}/{APP}",
                "--sync-interval", "0.1s", "--sync-timeout", "30s",
                "--prometheus", self.stack.url, "--namespace", self.namespace,
                "--check", CHECK, "--interval", "0.5s", "--count", "2", *args]
        return argv + (["--json", str(out)] if out else [])

    def canary(self, *args: str, name: str = "canary") -> tuple[int, dict]:
        out = self.work / f"{name}.json"
        code = main(self.argv(*args, out=out), environ=self.env)
        return code, json.loads(out.read_text())

    def settle(self, sha: str) -> dict[str, int]:
        """The split once `sha` is applied and its newest revision is done loading."""
        wait_for(lambda: self.isvc.seen == sha, what=f"KServe to apply {sha[:12]}")
        wait_for(lambda: self._loaded(), what="the newest revision to load")
        return self.isvc.split()

    def _loaded(self) -> bool:
        obj = self.isvc.kube.get("InferenceService", self.namespace, APP) or {}
        component = obj.get("status", {}).get("components", {}).get("predictor", {})
        return component.get("latestReadyRevision") == component.get("latestCreatedRevision")


def _record(live: Live, stop: threading.Event) -> None:
    while not stop.wait(0.01):
        seen = live.isvc.seen
        split = live.isvc.split()
        if seen == live.isvc.seen:   # not applied between the two reads
            live.settled[seen] = split


@pytest.fixture
def live(request, git_server: GitHttpServer, kube_api: KubeApiStandIn,  # noqa: F811
         argocd_api: ArgoCdStandIn, prometheus_stack: Stack,  # noqa: F811
         tmp_path: Path) -> Iterator[Live]:
    namespace = "canary-" + request.node.name.removeprefix("test_")[:40].replace("_", "-")
    git_server.create_repo(REPO, {PATH: manifest(namespace)})
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MLGATE_CI": "local",
           "NO_PROXY": "127.0.0.1", "ARGOCD_AUTH_TOKEN": ARGO_TOKEN,
           "KUBECONFIG": str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")),
           "MLGATE_GIT_TOKEN": git_server.token("writer"), "MLGATE_GIT_USERNAME": "writer"}
    follow = EachCommit(git_server)
    with KServeController(kube_api, follow, git_show(git_server.path(REPO)), path=PATH,
                          delay=0.05, ready_delay=0.2, poll=0.02) as isvc, \
            Controller(argocd_api, lambda: isvc.seen, app="churn-staging", delay=0.1,
                       poll=0.02) as argo:
        state = Live(git_server, follow, isvc, argo, prometheus_stack, namespace, env, tmp_path)
        for revision in (REV1, REV2, REV3):
            state.accuracy(revision, GOOD)
        prometheus_stack.prometheus.wait_for(
            f'count(mlgate_model_accuracy{{namespace="{namespace}"}})',
            lambda vs: vs == [3.0], timeout=20)
        stop = threading.Event()
        recorder = threading.Thread(target=_record, args=(state, stop), daemon=True)
        recorder.start()
        try:
            yield state
        finally:
            stop.set()
            recorder.join(5)


def assert_steps(live: Live, commits: list[str], shares: list[int]) -> str:
    """The step commits: one canary id, STEP/TOTAL, the weight and the share in the repo, the
    image from step 1 on, and the split KServe settled on. The canary's id."""
    ids = set()
    for n, (sha, share) in enumerate(zip(commits, shares, strict=True), start=1):
        t = live.trailers(sha)
        assert t["Mlgate-Canary"] == [f"{n}/4"] and t["Mlgate-Canary-Weight"] == [str(share)]
        ids.update(t["Mlgate-Canary-Id"])
        assert live.percent(sha) == share and live.image(sha) == NEW
        assert live.settled[sha] == ({REV2: 100} if share == 100 else
                                     {REV2: share, REV1: 100 - share}), (n, live.settled[sha])
    first = live.trailers(commits[0])
    assert first["Mlgate-Previous"] == [OLD] and first["Mlgate-New"] == [NEW]
    assert len(ids) == 1
    return ids.pop()


def test_every_step_passes_and_the_new_revision_takes_all_traffic(live: Live) -> None:
    """The stable revision's own series would fail the check: every step passing shows that
    {revision} named the new one."""
    live.accuracy(REV1, BAD)
    base = live.head()
    code, doc = live.canary("--image", NEW)
    assert code == 0, doc
    commits = live.commits_since(base)
    assert len(commits) == 4
    cid = assert_steps(live, commits, [1, 5, 25, 100])
    outputs = doc["outputs"]
    assert outputs["outcome"] == "completed" and outputs["rolled-back"] == "false"
    assert outputs["canary-id"] == cid and outputs["commit"] == commits[-1]
    assert outputs["rollback-commit"] == ""
    steps = doc["result"]["steps"]
    assert [(s["step"], s["weight"], s["commit"], s["wait"], s["verify"]) for s in steps] == [
        (n, w, c, "ready", "Successful") for n, w, c in zip((1, 2, 3, 4), (1, 5, 25, 100),
                                                              commits, strict=True)]
    assert live.isvc.revisions == [REV1, REV2]
    assert [p for _, p in live.isvc.applied] == [None, 1, 5, 25, 100]
    # a canary records no git notes: each step's commit already says how it went
    refs = subprocess.run(["git", "-C", str(live.git.path(REPO)), "for-each-ref",
                           "--format=%(refname)"], capture_output=True, text=True).stdout
    assert "refs/notes/" not in refs


def test_a_failed_check_at_25_percent_sends_traffic_back_and_rolls_back(live: Live) -> None:
    """The new revision's accuracy drops once it takes 25 % of the traffic (a model that
    breaks under load): step 3's check fails, the traffic goes back to 0 % in one commit,
    then one rollback commit restores the old image and keeps the share at 0 %."""
    stop = threading.Event()

    def degrade() -> None:
        while not stop.wait(0.01):
            if live.isvc.split().get(REV2, 0) >= 25:
                live.accuracy(REV2, BAD)
                return
    watcher = threading.Thread(target=degrade, daemon=True)
    watcher.start()
    base = live.head()
    try:
        code, doc = live.canary("--image", NEW)
    finally:
        stop.set()
        watcher.join(5)
    assert code == 1, doc
    commits = live.commits_since(base)
    assert len(commits) == 5, [live.trailers(c) for c in commits]
    steps, zero, back = commits[:3], commits[3], commits[4]
    cid = assert_steps(live, steps, [1, 5, 25])
    t = live.trailers(zero)
    assert t["Mlgate-Canary"] == ["aborted"] and t["Mlgate-Canary-Weight"] == ["0"]
    assert t["Mlgate-Canary-Id"] == [cid]
    assert t["Mlgate-Set-Undo"] == [f"{FIELD}=0"]
    assert live.percent(zero) == 0 and live.image(zero) == NEW
    assert live.settled[zero] == {REV2: 0, REV1: 100}
    t = live.trailers(back)
    assert t["Mlgate-Canary"] == ["rolled-back"] and t["Mlgate-Canary-Id"] == [cid]
    assert t["Mlgate-Rollback-Of"] == [" ".join([zero, *reversed(steps)])]
    reason = t["Mlgate-Rollback-Reason"][0]
    assert reason.startswith("canary-accuracy 0.5 < 0.9") and reason.endswith(" at step 25 %")
    assert live.percent(back) == 0 and live.image(back) == OLD
    # the restored image is a new revision; at 0 % it takes nothing: the revision that rolled
    # out before the canary keeps all traffic, before and after the restored one is ready
    assert live.settle(back) == {REV3: 0, REV1: 100}
    assert live.isvc.revisions == [REV1, REV2, REV3]
    outputs = doc["outputs"]
    assert outputs["outcome"] == "rolled-back" and outputs["rolled-back"] == "true"
    assert outputs["rollback-commit"] == back and outputs["step"] == "3/4"
    failed = doc["result"]["steps"][-1]
    assert (failed["step"], failed["weight"], failed["verify"]) == (3, 25, "Failed")
    assert doc["result"]["abort_commit"] == zero
    assert doc["result"]["rollback_reason"] == reason
    # closed: nothing to resume
    assert main(live.argv("--resume"), environ=live.env) == 2


def test_a_job_killed_after_step_2_is_finished_by_resume(live: Live) -> None:
    """The job dies (SIGKILL: no handler runs) while it waits for the cluster to apply step 2;
    a fresh job with --resume judges step 2 again and finishes from step 3."""
    base = live.head()
    live.follow.hold.add("2/4")
    argv = [sys.executable, "-m", "mlgate", *live.argv("--image", NEW)]
    log = live.work / "killed.log"
    with open(log, "wb") as out:
        job = subprocess.Popen(argv, env={**live.env, "PYTHONPATH": SRC,
                                                     "PYTHONUNBUFFERED": "1"}, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def waiting_at_step_2() -> bool:
            assert job.poll() is None, log.read_text()
            return (live.trailers("main").get("Mlgate-Canary") == ["2/4"]
                    and "step 2/4" in log.read_text())
        wait_for(waiting_at_step_2, timeout=60, what="the job to wait for step 2")
        time.sleep(0.5)   # well inside step 2's wait-sync
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(10)
    assert job.returncode == -signal.SIGKILL
    killed_at = live.head()
    assert len(live.commits_since(base)) == 2
    assert "canary-accuracy" not in log.read_text().split("step 2/4", 1)[1]  # not judged
    live.follow.hold.clear()   # the cluster catches up
    code, doc = live.canary("--resume", name="resumed")
    assert code == 0, doc
    commits = live.commits_since(base)
    assert len(commits) == 4 and commits[1] == killed_at
    cid = assert_steps(live, commits, [1, 5, 25, 100])
    steps = doc["result"]["steps"]
    assert [(s["step"], s["resumed"], s["commit"], s["wait"], s["verify"]) for s in steps] == [
        (2, True, commits[1], "ready", "Successful"), (3, False, commits[2], "ready",
                                                       "Successful"),
        (4, False, commits[3], "ready", "Successful")]
    assert doc["outputs"]["outcome"] == "completed" and doc["outputs"]["canary-id"] == cid
    assert live.isvc.revisions == [REV1, REV2]


def test_abort_undoes_an_open_canary(live: Live) -> None:
    base = live.head()
    code, doc = live.canary("--image", NEW, "--max-steps", "2", name="open")
    assert code == 0 and doc["outputs"]["outcome"] == "open", doc
    steps = live.commits_since(base)
    cid = assert_steps(live, steps, [1, 5])
    code, doc = live.canary("--abort", "--reason", "p95 latency doubled on the dashboard",
                            name="abort")
    assert code == 1, doc
    commits = live.commits_since(base)
    assert len(commits) == 4
    zero, back = commits[2], commits[3]
    t = live.trailers(zero)
    assert t["Mlgate-Canary"] == ["aborted"] and t["Mlgate-Canary-Id"] == [cid]
    assert live.percent(zero) == 0 and live.image(zero) == NEW
    assert live.settled[zero] == {REV2: 0, REV1: 100}
    t = live.trailers(back)
    assert t["Mlgate-Canary"] == ["rolled-back"]
    assert t["Mlgate-Rollback-Of"] == [" ".join([zero, *reversed(steps)])]
    assert t["Mlgate-Rollback-Reason"] == ["p95 latency doubled on the dashboard"]
    assert live.percent(back) == 0 and live.image(back) == OLD
    assert live.settle(back) == {REV3: 0, REV1: 100}
    outputs = doc["outputs"]
    assert outputs["outcome"] == "rolled-back" and outputs["rolled-back"] == "true"
    assert outputs["rollback-commit"] == back
    assert main(live.argv("--abort"), environ=live.env) == 2   # nothing open any more
