"""The KServe controller stand-in (tests/standins/kserve_controller.py) reports what KServe's
Serverless mode reports for each commit of a config repo, read back through the real
`kubernetes` client: a new revision per spec change that takes its canaryTrafficPercent only
once ready, a re-split for a traffic-only change, the roll-out at 100, FailedToLoad for a model
that cannot load; and mlgate's own InferenceService rule judges those objects as it should.

The traffic shapes are the ones KServe documents (docs/samples/v1beta1/rollout/README.md in
kserve/kserve), compared field for field.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from standins.argocd_api import TOKEN as ARGO_TOKEN
from standins.argocd_api import ArgoCdStandIn
from standins.argocd_api import argocd_api  # noqa: F401  (the fixture)
from standins.argocd_controller import Controller
from standins.kserve_controller import KServeController, git_show, kustomize
from standins.kube_api import KubeApiStandIn
from standins.kube_api import kube_api  # noqa: F401  (the fixture)
from support.configrepo import bare_from_tree, git

from mlgate.cli import main
from mlgate.cluster import status as rules

PATH = "apps/churn/staging/inferenceservice.yaml"
NS = "churn-staging"
REV1, REV2, REV3 = (f"churn-predictor-0000{n}" for n in (1, 2, 3))


def manifest(image: str = "v1", percent: int | None = None, *,
             annotations: dict[str, str] | None = None) -> str:
    predictor: dict[str, Any] = {"containers": [
        {"name": "kserve-container", "image": f"registry.example.com/ml/churn:{image}"}]}
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    meta: dict[str, Any] = {"name": "churn", "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    return yaml.safe_dump({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                           "metadata": meta, "spec": {"predictor": predictor}})


class Repo:
    """The config repo: a bare repo and a clone that commits and pushes to its main."""

    def __init__(self, tmp: Path, text: str) -> None:
        self.bare = bare_from_tree(tmp, {PATH: text})
        self.work = tmp / "work"
        git(tmp, "clone", "-q", str(self.bare), str(self.work))

    def head(self) -> str:
        return git(self.bare, "rev-parse", "main").strip()

    def commit(self, text: str, path: str = PATH) -> str:
        (self.work / path).parent.mkdir(parents=True, exist_ok=True)
        (self.work / path).write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-qm", "step")
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return self.head()


def wait_for(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def api(kube_api: KubeApiStandIn, tmp_path: Path) -> Iterator[client.CustomObjectsApi]:  # noqa: F811
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    with config.new_client_from_config(config_file=str(path)) as api_client:
        yield client.CustomObjectsApi(api_client)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path, manifest("v1"))


@pytest.fixture
def isvc(kube_api: KubeApiStandIn, repo: Repo) -> Iterator[KServeController]:  # noqa: F811
    """Revisions become ready only on finish(), so each test sees the loading state."""
    with KServeController(kube_api, repo.head, git_show(repo.bare), path=PATH,
                          ready_delay=None) as running:
        yield running


def read(api: client.CustomObjectsApi) -> dict[str, Any]:
    return api.get_namespaced_custom_object("serving.kserve.io", "v1beta1", NS,
                                            "inferenceservices", "churn")


def predictor(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["status"]["components"]["predictor"]


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


def step(repo: Repo, isvc: KServeController, text: str) -> str:
    """Commit and wait until the controller applied it."""
    sha = repo.commit(text)
    wait_for(lambda: isvc.seen == sha)
    return sha


def test_the_branch_head_is_served_when_it_starts(api, isvc: KServeController, repo: Repo) -> None:
    obj = read(api)
    assert isvc.applied == [(repo.head(), None)] and isvc.revisions == [REV1]
    assert predictor(obj) == {
        "latestCreatedRevision": REV1, "latestReadyRevision": REV1,
        "latestRolledoutRevision": REV1,
        "traffic": [{"latestRevision": True, "percent": 100, "revisionName": REV1}],
        "url": f"http://churn-predictor.{NS}.example.com",
        "address": {"url": f"http://churn-predictor.{NS}.svc.cluster.local"}}
    assert obj["status"]["url"] == f"http://churn.{NS}.example.com"
    conds = conditions(obj)
    assert {t for t, c in conds.items() if c["status"] == "True"} >= {
        "Ready", "PredictorReady", "IngressReady"}
    assert all(c["lastTransitionTime"].endswith("Z") for c in conds.values())
    assert obj["status"]["modelStatus"]["states"] == {"activeModelState": "Loaded",
                                                      "targetModelState": "Loaded"}
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 1
    assert rules.inference_service(obj).state == rules.READY


def test_a_new_image_makes_a_revision_that_takes_its_share_once_ready(
        api, isvc: KServeController, repo: Repo) -> None:
    sha = step(repo, isvc, manifest("v2", 10))
    obj = read(api)
    assert isvc.applied[-1] == (sha, 10) and isvc.revisions == [REV1, REV2]
    assert predictor(obj)["latestCreatedRevision"] == REV2
    assert predictor(obj)["latestReadyRevision"] == REV1
    assert isvc.split() == {REV1: 100}  # Knative routes "latest" to the latest *ready* one
    assert conditions(obj)["Ready"]["status"] == "Unknown"
    assert obj["status"]["modelStatus"]["transitionStatus"] == "InProgress"
    seen = rules.inference_service(obj)
    assert seen.state == rules.PROGRESSING and seen.revision == REV1

    isvc.finish()
    obj = read(api)
    assert predictor(obj)["traffic"] == [
        {"latestRevision": True, "percent": 10, "revisionName": REV2},
        {"latestRevision": False, "percent": 90, "revisionName": REV1, "tag": "prev",
         "url": f"http://prev-churn-predictor.{NS}.example.com"}]
    assert predictor(obj)["latestRolledoutRevision"] == REV1
    assert "previousRolledoutRevision" not in predictor(obj)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 2
    assert rules.inference_service(obj).state == rules.READY


def test_tag_routing_gives_the_documented_status(api, isvc: KServeController,
                                                 repo: Repo) -> None:
    """KServe's rollout README, "Tag based routing": both targets tagged, each with its URL."""
    step(repo, isvc, manifest("v2", 10, annotations={"serving.kserve.io/enable-tag-routing":
                                                      "true"}))
    isvc.finish()
    assert predictor(read(api))["traffic"][0] == {
        "latestRevision": True, "percent": 10, "revisionName": REV2, "tag": "latest",
        "url": f"http://latest-churn-predictor.{NS}.example.com"}


def test_a_traffic_only_change_resplits_the_same_revisions(api, isvc: KServeController,
                                                           repo: Repo) -> None:
    step(repo, isvc, manifest("v2", 10))
    isvc.finish()
    ready_since = conditions(read(api))["Ready"]["lastTransitionTime"]
    time.sleep(1.1)  # a new lastTransitionTime would differ by a second
    sha = step(repo, isvc, manifest("v2", 50))
    obj = read(api)
    assert isvc.applied[-1] == (sha, 50) and isvc.revisions == [REV1, REV2]
    assert isvc.split() == {REV2: 50, REV1: 50}
    assert conditions(obj)["Ready"] == {**conditions(obj)["Ready"], "status": "True",
                                        "lastTransitionTime": ready_since}
    assert rules.inference_service(obj).state == rules.READY


@pytest.mark.parametrize("last", [100, None], ids=["100", "field-removed"])
def test_the_last_step_rolls_the_new_revision_out(api, isvc: KServeController, repo: Repo,
                                                  last: int | None) -> None:
    step(repo, isvc, manifest("v2", 25))
    isvc.finish()
    step(repo, isvc, manifest("v2", last))
    obj = read(api)
    assert isvc.split() == {REV2: 100} and isvc.revisions == [REV1, REV2]
    assert predictor(obj)["latestRolledoutRevision"] == REV2
    assert predictor(obj)["previousRolledoutRevision"] == REV1
    assert rules.inference_service(obj).state == rules.READY


def test_pinning_after_the_rollout_gives_everything_back_to_the_previous_one(
        api, isvc: KServeController, repo: Repo) -> None:
    """The README's "Rollback and pin the model": canaryTrafficPercent 0 after a roll-out."""
    step(repo, isvc, manifest("v2", 10))
    isvc.finish()
    step(repo, isvc, manifest("v2", 100))
    step(repo, isvc, manifest("v2", 0))
    assert isvc.split() == {REV2: 0, REV1: 100}
    assert predictor(read(api))["latestRolledoutRevision"] == REV1


def test_a_model_that_cannot_load_reports_failed_to_load(api, isvc: KServeController,
                                                         repo: Repo) -> None:
    isvc.fail_next("model file s3://models/churn/4 not found", exit_code=1)
    step(repo, isvc, manifest("v2", 10))
    assert rules.inference_service(read(api)).state == rules.PROGRESSING
    isvc.finish()
    obj = read(api)
    model = obj["status"]["modelStatus"]
    assert model["states"] == {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"}
    assert model["transitionStatus"] == "BlockedByFailedLoad"
    assert model["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert model["lastFailureInfo"]["exitCode"] == 1
    assert conditions(obj)["Ready"]["status"] == "False"
    assert conditions(obj)["Ready"]["reason"] == "RevisionFailed"
    assert predictor(obj)["latestReadyRevision"] == REV1 and isvc.split() == {REV1: 100}
    seen = rules.inference_service(obj)
    assert seen.state == rules.FAILED and "s3://models/churn/4 not found" in seen.message
    # the next revision loads normally again: the hook fails one revision only
    step(repo, isvc, manifest("v1"))
    isvc.finish()
    assert isvc.split() == {REV3: 100}
    assert rules.inference_service(read(api)).state == rules.READY


def test_rolling_back_with_the_field_removed_serves_the_failed_canary_until_ready(
        isvc: KServeController, repo: Repo) -> None:
    """Knative's latestRevision target is the latest ready revision: restoring the old image
    and dropping canaryTrafficPercent in one commit sends all traffic to the canary that was
    just aborted at 0 %, until the restored revision is ready."""
    step(repo, isvc, manifest("v2", 25))
    isvc.finish()
    step(repo, isvc, manifest("v2", 0))
    assert isvc.split() == {REV2: 0, REV1: 100}
    step(repo, isvc, manifest("v1"))
    assert isvc.split() == {REV2: 100}
    isvc.finish()
    assert isvc.split() == {REV3: 100}


def test_observed_generation_is_the_knative_services(api, isvc: KServeController,
                                                     repo: Repo) -> None:
    """KServe copies the ksvc's observedGeneration (PropagateStatus): setting 100 where the
    field was absent changes the InferenceService's spec but not the ksvc's."""
    step(repo, isvc, manifest("v1", 100))
    obj = read(api)
    assert obj["metadata"]["generation"] == 2 and obj["status"]["observedGeneration"] == 1
    # so mlgate's rule does not compare them: it would wait for ever
    from mlgate.cluster.status import inference_service

    assert inference_service(obj).state == "ready"


def test_the_first_revision_takes_everything_whatever_the_percent(
        kube_api: KubeApiStandIn, tmp_path: Path) -> None:  # noqa: F811
    """Nothing rolled out yet: no split (ksvc_reconciler needs a latestRolledoutRevision).
    Once it rolled out, the split names it twice, and the ksvc took a second update."""
    repo = Repo(tmp_path, manifest("v1", 10))
    with KServeController(kube_api, repo.head, git_show(repo.bare), path=PATH) as running:
        obj = kube_api.get("InferenceService", NS, "churn")
        assert obj is not None and running.split() == {REV1: 100}
        assert [(t["revisionName"], t["percent"]) for t in predictor(obj)["traffic"]] == [
            (REV1, 10), (REV1, 90)]
        assert obj["metadata"]["generation"] == 1 and obj["status"]["observedGeneration"] == 2
        from mlgate.cluster.status import inference_service

        assert inference_service(obj).state == "ready"


def test_the_thread_makes_revisions_ready_after_ready_delay(
        kube_api: KubeApiStandIn, repo: Repo) -> None:  # noqa: F811
    with KServeController(kube_api, repo.head, git_show(repo.bare), path=PATH, delay=0.05,
                          ready_delay=0.2) as running:
        sha = repo.commit(manifest("v2", 5))
        wait_for(lambda: running.split() == {REV2: 5, REV1: 95})
        assert running.applied[-1] == (sha, 5)


def test_argo_cd_following_seen_reports_a_commit_synced_only_once_applied(
        argocd_api: ArgoCdStandIn, isvc: KServeController, repo: Repo) -> None:  # noqa: F811
    with Controller(argocd_api, lambda: isvc.seen, app="churn-staging") as argo:
        sha = repo.commit(manifest("v2", 10))
        wait_for(lambda: argo.applied == [sha])
        assert isvc.applied[-1] == (sha, 10)


def test_kustomize_renders_the_overlay_with_its_image(kube_api: KubeApiStandIn,  # noqa: F811
                                                      tmp_path: Path) -> None:
    overlay = "apps/churn/staging"
    repo = Repo(tmp_path, manifest("v1"))
    repo.commit(f"resources: [inferenceservice.yaml]\nnamespace: {NS}\nimages:\n"
                "  - name: registry.example.com/ml/churn\n    newTag: v7\n",
                f"{overlay}/kustomization.yaml")
    with KServeController(kube_api, repo.head, kustomize(repo.bare), path=overlay) as running:
        obj = kube_api.get("InferenceService", NS, "churn")
        assert obj is not None and running.errors == []
        image = obj["spec"]["predictor"]["containers"][0]["image"]
        assert image == "registry.example.com/ml/churn:v7"


@pytest.mark.parametrize("loads", [True, False], ids=["loads", "fails-to-load"])
def test_wait_sync_follows_both_controllers(kube_api: KubeApiStandIn,  # noqa: F811
                                            argocd_api: ArgoCdStandIn,  # noqa: F811
                                            repo: Repo, tmp_path: Path, loads: bool) -> None:
    """The pair as an end-to-end test uses it: the real `mlgate wait-sync` waits for the
    Application and then the InferenceService, and stops at once on FailedToLoad."""
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MLGATE_CI": "local",
           "NO_PROXY": "127.0.0.1", "ARGOCD_SERVER": argocd_api.url,
           "ARGOCD_AUTH_TOKEN": ARGO_TOKEN, "KUBECONFIG": str(kubeconfig)}
    with KServeController(kube_api, repo.head, git_show(repo.bare), path=PATH,
                          ready_delay=1.0) as isvc, \
            Controller(argocd_api, lambda: isvc.seen, app="churn-staging"):
        if not loads:
            isvc.fail_next("cannot load the model")
        sha = repo.commit(manifest("v2", 10))
        out = tmp_path / "wait.json"
        code = main(["wait-sync", "--revision", sha, "--argocd-app", "churn-staging",
                     "--workload", f"inferenceservice/{NS}/churn", "--interval", "0.1",
                     "--timeout", "30s", "--json", str(out)], environ=env)
        resources = json.loads(out.read_text())["result"]["resources"]
        states = [r["state"] for r in resources]
        assert (code, states) == ((0, ["ready", "ready"]) if loads else (1, ["ready", "failed"]))
        # the revision serving (what a canary's {revision} names), not only the Application's
        assert resources[1]["revision"] == (REV2 if loads else REV1)
        assert isvc.split() == ({REV2: 10, REV1: 90} if loads else {REV1: 100})
