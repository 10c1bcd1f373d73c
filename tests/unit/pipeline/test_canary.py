"""`mlgate pipeline` for an environment with `canary:`: the canary runs in place of the plain
promotion, one commit per traffic step on a bare config repo whose InferenceService carries
KServe's canaryTrafficPercent, each step waited for through the Argo CD stand-in (a controller
thread applies each new head) and judged against the real Prometheus with the checks of the
environment's verify: section; a bad canary section is exit 2 naming the key before anything
runs; and the GitLab template's jobs (`--only ...`) each find their part."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml
from standins.argocd_api import TOKEN as ARGO_TOKEN
from standins.argocd_api import (
    ArgoCdStandIn,
    argocd_api,  # noqa: F401  (fixture)
)
from standins.argocd_controller import Controller
from support.configrepo import bare_from_tree, git, show

from mlgate.cli import main
from mlgate.errors import BadInput
from mlgate.pipeline import schema
from mlgate.pipeline.config import load

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IMG = "registry.example.com/ml/churn"
ISVC = "apps/churn/{env}/inferenceservice.yaml"


def inference_service(tag: str) -> str:
    return (f"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n"
            f"  name: churn\nspec:\n  predictor:\n    containers:\n"
            f"      - name: kserve-container\n        image: {IMG}:{tag}\n")


def config_repo(tmp_path: Path) -> Path:
    return bare_from_tree(tmp_path, {ISVC.format(env=e): inference_service("v1.4.0")
                                     for e in ("staging", "production")})


def policy(remote: Path, prometheus: str = "http://127.0.0.1:9", namespace: str = "ns",
           canary: dict | None = None) -> dict:
    return {
        "version": 1,
        "app": "churn",
        "image": f"{IMG}:v1.5.0",
        "promote": {"repo": str(remote), "path": "apps/churn", "author-name": "ci",
                    "author-email": "ci@example.invalid"},
        "environments": [{
            "name": "staging", "gates": [],
            "wait-sync": {"argocd-app": "churn-staging", "interval": "0.2s", "timeout": "20s"},
            "verify": {"prometheus": prometheus, "namespace": namespace,
                       "check": ["error-rate:max=1%"], "interval": "0.5s", "count": 2,
                       "no-incident": True},
            "canary": {"steps": "50,100", **(canary or {})},
        }],
    }


def run(tmp_path: Path, cfg: dict, argo: ArgoCdStandIn | None, *extra: str,
        config: Path | None = None) -> tuple[int, dict]:
    path = config or tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / f"pipeline{'-'.join(extra)}.json"
    env = {**os.environ, "MLGATE_CI": "local", "NO_PROXY": "127.0.0.1"}
    if argo is not None:
        env.update({"ARGOCD_SERVER": argo.url, "ARGOCD_AUTH_TOKEN": ARGO_TOKEN})
    code = main(["pipeline", "--config", str(path), "--reports-dir", str(tmp_path / "reports"),
                 "--json", str(out), *extra], environ=env)
    return code, json.loads(out.read_text())


def steps(doc: dict) -> dict[str, dict]:
    return {s["step"]: s for s in doc["result"]["steps"]}


def follow(argo: ArgoCdStandIn, remote: Path) -> Controller:
    return Controller(argo, lambda: git(remote, "rev-parse", "main").strip())


def traffic(stack, namespace: str, error_ratio: float) -> None:
    stack.exporter.traffic("churn", namespace, error_ratio=error_ratio, latency=0.05, rps=100)
    stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="churn",namespace="{namespace}"}}[1s]))',
        lambda vs: bool(vs) and vs[0] > 0, timeout=20)


def commits_since_seed(remote: Path) -> list[str]:
    """The commits after the seed, oldest first."""
    return git(remote, "rev-list", "--reverse", "main~" + str(
        int(git(remote, "rev-list", "--count", "main").strip()) - 1) + "..main").split()


def body(remote: Path, sha: str) -> str:
    return git(remote, "log", "-1", "--format=%B", sha)


# --------------------------------------------------------------------------- running it


def test_a_canary_environment_walks_the_steps_in_place_of_the_promotion(
        argocd_api, prometheus_stack, tmp_path):  # noqa: F811
    remote = config_repo(tmp_path)
    traffic(prometheus_stack, "canary-pipe-ok", 0.0)
    controller = follow(argocd_api, remote)
    try:
        code, doc = run(tmp_path, policy(remote, prometheus_stack.url, "canary-pipe-ok"),
                        argocd_api)
    finally:
        controller.stop()
    assert code == 0, doc
    assert list(steps(doc)) == ["canary"], "wait-sync and verify ran inside the canary"
    first, last = commits_since_seed(remote)
    assert "Mlgate-Canary: 1/2" in body(remote, first)
    assert "Mlgate-Canary-Weight: 50" in body(remote, first)
    assert "Mlgate-Canary: 2/2" in body(remote, last)
    isvc = ISVC.format(env="staging")
    assert "canaryTrafficPercent: 50" in show(remote, first, isvc)
    assert f"image: {IMG}:v1.5.0" in show(remote, first, isvc)
    assert "canaryTrafficPercent: 100" in show(remote, last, isvc)
    assert "v1.4.0" in show(remote, "main", ISVC.format(env="production"))
    # each step was waited for (wait-sync:) and judged (verify:) before the next one landed
    assert controller.applied == [first, last]
    judged = json.loads((tmp_path / "reports" / "canary.json").read_text())["result"]["steps"]
    assert [(s["weight"], s["wait"], s["verify"]) for s in judged] == [
        (50, "ready", "Successful"), (100, "ready", "Successful")]
    reports = tmp_path / "reports"
    assert not any((reports / f"{s}.json").exists() for s in ("promote", "wait-sync", "verify"))
    out = doc["outputs"]
    assert out["passed"] == "true" and out["promoted"] == "true"
    assert out["canary-outcome"] == "completed" and out["canary-commit"] == last
    assert out["canary-step"] == "2/2" and out["promote-commit"] == ""


def test_a_failed_check_rolls_the_canary_back_and_fails_the_pipeline(
        argocd_api, prometheus_stack, tmp_path):  # noqa: F811
    remote = config_repo(tmp_path)
    seed = git(remote, "rev-parse", "main").strip()
    traffic(prometheus_stack, "canary-pipe-bad", 0.2)
    controller = follow(argocd_api, remote)
    try:
        code, doc = run(tmp_path, policy(remote, prometheus_stack.url, "canary-pipe-bad"),
                        argocd_api)
    finally:
        controller.stop()
    assert code == 1, doc
    assert list(steps(doc)) == ["canary"]
    step, aborted, back = commits_since_seed(remote)
    assert "Mlgate-Canary: 1/2" in body(remote, step)
    assert "Mlgate-Canary: aborted" in body(remote, aborted)
    assert "canaryTrafficPercent: 0" in show(remote, aborted, ISVC.format(env="staging"))
    message = body(remote, back)
    (undone,) = [line for line in message.splitlines()
                 if line.startswith("Mlgate-Rollback-Of: ")]
    assert step in undone.split()[1:], message     # the canary's commits, undone as one
    assert "at step 50 %" in message and "error-rate" in message
    restored = yaml.safe_load(show(remote, back, ISVC.format(env="staging")))["spec"]
    assert restored["predictor"]["containers"][0]["image"] == f"{IMG}:v1.4.0"
    # the share stays at 0 % (Mlgate-Set-Undo): the revision that rolled out before the canary
    # keeps all traffic while the restored one starts (100 % would go to the newest ready one)
    assert restored["predictor"]["canaryTrafficPercent"] == 0
    assert seed in git(remote, "rev-list", "main")
    (reason,) = doc["result"]["reasons"]
    assert reason.startswith("canary: rolled-back: canary ") and "at step 50 %" in reason
    out = doc["outputs"]
    assert out["passed"] == "false" and out["promoted"] == "false"
    assert out["canary-rolled-back"] == "true" and out["canary-rollback-commit"] == back


# --------------------------------------------------------------------------- the section


@pytest.mark.parametrize("change,message", [
    ({"canary": {"steps": "1,50,25,100"}},
     r"environments\[1\]\.canary\.steps: each share above the one before"),
    ({"canary": {"steps": "1,5,25"}}, r"environments\[1\]\.canary\.steps: the last step is 100"),
    ({"canary": {"pause": "soon"}}, r"environments\[1\]\.canary\.pause 'soon': not a duration"),
    ({"canary": {"max-steps": 0}}, r"environments\[1\]\.canary\.max-steps: 0 is not in the range"),
    ({"canary": {"traffic-field": ["route.yaml:spec.a=stable"]}},
     r"environments\[1\]\.canary\.traffic-field: exactly one field"),
    ({"canary": {"check": "error-rate:max=1%"}},
     r"environments\[1\]\.canary\.check: needs prometheus"),
    ({"canary": {"check": ["bogus"], "prometheus": "http://127.0.0.1:9"}},
     r"environments\[1\]\.canary\.check\[0\]: --check 'bogus': unknown check"),
    ({"canary": {}, "promote": {"mode": "pull-request"}},
     r"environments\[1\]\.canary: a canary's steps land on the watched branch"),
    ({"canary": {}, "verify": {"prometheus": "http://127.0.0.1:9", "check": "error-rate:max=1%",
                               "report": "verify.md"}},
     r"environments\[1\]\.verify\.report: not used with canary:"),
    ({"canary": {}, "wait-sync": {"argocd-app": "a", "kubeconfig": "a.conf"},
      "verify": {"prometheus": "http://127.0.0.1:9", "check": "error-rate:max=1%",
                 "kubeconfig": "b.conf"}},
     r"environments\[1\]\.wait-sync\.kubeconfig: differs from verify\.kubeconfig"),
    # the schema, built from the canary stage's own options less those the pipeline sets
    ({"canary": {"stepz": "1,100"}}, r"environments\[1\]\.canary: unknown key\(s\) \('stepz'"),
    ({"canary": {"abort": True}}, r"environments\[1\]\.canary: unknown key\(s\) \('abort'"),
    ({"canary": {"repo": "elsewhere.git"}},
     r"environments\[1\]\.canary: unknown key\(s\) \('repo'"),
    ({"canary": {"image": f"{IMG}:v9"}}, r"environments\[1\]\.canary: unknown key\(s\) \('image'"),
])
def test_a_bad_canary_section_is_refused_naming_the_key(tmp_path, change, message):
    cfg = policy(tmp_path / "config.git")
    del cfg["environments"][0]["canary"]
    cfg["environments"].append({"name": "production", "from": "staging", **change})
    path = tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(BadInput, match=message):
        load(path, {})


def test_a_bad_canary_section_is_exit_2_before_anything_runs(tmp_path, capsys):
    """Even when another environment is the one run: the file is refused as a whole."""
    remote = config_repo(tmp_path)
    before = git(remote, "for-each-ref")
    cfg = policy(remote)
    cfg["environments"].append({"name": "production", "from": "staging",
                                "canary": {"steps": "1,50,25,100"}})
    path = tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    reports = tmp_path / "reports"
    code = main(["pipeline", "--config", str(path), "--reports-dir", str(reports),
                 "--environment", "staging"], environ={**os.environ, "MLGATE_CI": "local"})
    err = capsys.readouterr().err
    assert code == 2
    assert "mlgate.yaml: environments[1].canary.steps: each share above" in err, err
    assert "Traceback" not in err
    assert not reports.exists() or not any(reports.iterdir())
    assert git(remote, "for-each-ref") == before


def test_the_schema_holds_the_canarys_own_options_and_none_the_pipeline_sets():
    section = schema.build()["properties"]["environments"]["items"]["properties"]["canary"]
    keys = set(section["properties"])
    assert section["additionalProperties"] is False
    assert {"steps", "pause", "traffic-field", "max-steps", "resume", "check", "query",
            "prometheus", "argocd-app", "sync-timeout", "sync-interval"} <= keys
    assert not keys & {"repo", "app", "environment", "image", "set", "evidence", "abort",
                       "reason", "mode", "json", "registry-alias", "from-environment"}
    assert "required" not in section


def test_the_canary_takes_the_controller_and_checks_of_the_environment(tmp_path):
    """wait-sync's timeout and interval become the canary's sync-timeout and sync-interval
    (verify's interval stays the measurements'); the canary's own check adds to verify's and
    its other keys win."""
    from mlgate.pipeline.canary import canary_inputs
    from mlgate.pipeline.run import promote_inputs

    cfg = policy(tmp_path / "config.git", canary={
        "check": "p95-latency:max=500ms", "count": 5, "pause": "1s"})
    cfg["model"] = {"name": "churn", "version": "7"}
    cfg["environments"][0]["alias"] = "staging"
    path = tmp_path / "mlgate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = load(path, {})
    env = loaded.environments[0]
    given = canary_inputs(env, promote_inputs(loaded, env, "7"), ["/r/validate.json"], "7")
    assert given["sync-timeout"] == "20s" and given["sync-interval"] == "0.2s"
    assert given["interval"] == "0.5s" and given["count"] == 5 and given["pause"] == "1s"
    assert given["check"] == ["error-rate:max=1%", "p95-latency:max=500ms"]
    assert given["argocd-app"] == "churn-staging" and given["steps"] == "50,100"
    assert given["evidence"] == ["/r/validate.json"] and given["model-version"] == "7"
    assert given["registry-alias"] == "staging" and given["alias-when"] == "verified"
    assert given["repo"] == str(tmp_path / "config.git") and given["image"] == [f"{IMG}:v1.5.0"]
    assert "timeout" not in given and "revision" not in given


# --------------------------------------------------------------------------- later CI jobs


def test_the_jobs_after_a_canary_are_skipped_and_read_nothing(tmp_path):
    """The template's wait-sync and verify jobs run after its promote job; for a canary
    environment there is no promote.json to read and nothing left to do."""
    remote = config_repo(tmp_path)
    for only in ("wait-sync", "verify"):
        code, doc = run(tmp_path, policy(remote), None, "--only", only)
        assert code == 0, doc
        (step,) = doc["result"]["steps"]
        assert step["step"] == only and step["exit_code"] is None
        assert "promotes by canary" in step["verdict"]


def test_only_canary_skips_an_environment_without_one(tmp_path):
    remote = config_repo(tmp_path)
    before = git(remote, "rev-parse", "main")
    cfg = policy(remote)
    del cfg["environments"][0]["canary"]
    code, doc = run(tmp_path, cfg, None, "--only", "canary")
    assert code == 0, doc
    (step,) = doc["result"]["steps"]
    assert step["step"] == "canary" and step["exit_code"] is None
    assert "has no canary: section" in step["verdict"]
    assert git(remote, "rev-parse", "main") == before


@pytest.mark.parametrize("only", ["promote", "canary"])
def test_the_promotion_job_runs_the_canary_on_the_gates_results_of_earlier_jobs(
        tmp_path, only):
    """As the GitLab template runs it: a validate job, then the promotion job, which for a
    canary environment runs the canary with the validate job's JSON as evidence, hashed from
    its bytes; without that JSON the job is exit 2 and nothing lands."""
    from support.validatedata import SUITE, customers

    remote = config_repo(tmp_path)
    customers().to_csv(tmp_path / "customers.csv", index=False)
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(SUITE))
    cfg = policy(remote)
    cfg["validate"] = {"data": "customers.csv", "suite": "suite.yaml"}
    env = cfg["environments"][0]
    env["gates"] = ["validate"]
    del env["wait-sync"], env["verify"]      # steps without a controller or checks
    code, doc = run(tmp_path, cfg, None, "--only", "validate")
    assert code == 0, doc
    validate = tmp_path / "reports" / "validate.json"
    recorded = validate.read_bytes()
    validate.unlink()
    seed = git(remote, "rev-parse", "main")
    code, doc = run(tmp_path, cfg, None, "--only", only)
    assert code == 2 and git(remote, "rev-parse", "main") == seed
    validate.write_bytes(recorded)
    code, doc = run(tmp_path, cfg, None, "--only", only)
    assert code == 0, doc
    assert [(s["step"], s["note"]) for s in doc["result"]["steps"]] == [
        ("validate", "from an earlier job"), ("canary", "")]
    first, last = commits_since_seed(remote)
    digest = hashlib.sha256(recorded).hexdigest()
    assert f"Mlgate-Evidence-Sha256: {digest} validate.json" in body(remote, first)
    assert "Mlgate-Canary: 2/2" in body(remote, last)
    assert not (tmp_path / "reports" / "promote.json").exists()
    assert doc["outputs"]["canary-outcome"] == "completed"
