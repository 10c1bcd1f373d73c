"""`mlgate canary` against real bare git repositories: the step commits, their trailers and
values, --max-steps / --resume / --abort, the rollback of a whole canary, and the inputs a
hostile or careless caller gives (refused with exit 2 and nothing landed)."""

from __future__ import annotations

import json

import pytest
from support.configrepo import bare_from_tree, example_remote, git, show

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin"}
PATCH = "apps/churn/production/model-version.yaml"
KUSTOMIZATION = "apps/churn/production/kustomization.yaml"


def canary(remote, *args, json_path=None):
    argv = ["canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", "production", *args]
    if json_path:
        argv += ["--json", str(json_path)]
    return main(argv, environ=ENV)


def trailers(remote, rev="main"):
    out = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", rev)
    pairs = [line.split(": ", 1) for line in out.splitlines() if ": " in line]
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def head(remote):
    return git(remote, "rev-parse", "main").strip()


def traffic(remote, rev="main"):
    for line in show(remote, rev, PATCH).splitlines():
        if "canaryTrafficPercent:" in line:
            return line.split(":", 1)[1].strip()
    return None


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def test_each_step_is_one_commit_setting_the_share(remote, tmp_path):
    out = tmp_path / "c.json"
    before = head(remote)
    assert canary(remote, "--image", f"{IMG}:v1.5.0", json_path=out) == 0
    commits = git(remote, "log", "--format=%H", f"{before}..main").split()
    assert len(commits) == 4
    shares = [traffic(remote, c) for c in reversed(commits)]
    assert shares == ["1", "5", "25", "100"]    # plain integers, as KServe's CRD types it
    subjects = git(remote, "log", "--format=%s", f"{before}..main").splitlines()
    assert subjects[-1] == ("promote churn to production: v1.4.0 -> v1.5.0 "
                            "(canary 1 %, step 1/4)")
    assert subjects[0].endswith("(canary 100 %, step 4/4)")
    first = trailers(remote, commits[-1])
    assert first["Mlgate-Canary"] == ["1/4"] and first["Mlgate-Canary-Weight"] == ["1"]
    assert first["Mlgate-Previous"] == [f"{IMG}:v1.4.0"]
    assert first["Mlgate-New"] == [f"{IMG}:v1.5.0"]
    # no canaryTrafficPercent before: KServe's meaning of that (100 %) is what is recorded
    assert first["Mlgate-Set-Previous"] == [f"{PATCH}:spec.predictor.canaryTrafficPercent=100"]
    last = trailers(remote)
    assert last["Mlgate-Canary"] == ["4/4"]
    assert last["Mlgate-Canary-Id"] == first["Mlgate-Canary-Id"]
    assert last["Mlgate-Set-Previous"] == [f"{PATCH}:spec.predictor.canaryTrafficPercent=25"]
    assert "newTag: v1.5.0" in show(remote, "main", KUSTOMIZATION)
    outputs = json.loads(out.read_text())["outputs"]
    assert outputs["outcome"] == "completed" and outputs["step"] == "4/4"
    assert outputs["weight"] == "100" and outputs["commit"] == head(remote)
    assert outputs["canary-id"] == first["Mlgate-Canary-Id"][0]
    assert outputs["rolled-back"] == "false" and outputs["rollback-commit"] == ""
    # the rest of the file is untouched: only the inserted key differs
    base = show(remote, commits[-1] + "~1", PATCH).splitlines()
    now = [line for line in show(remote, "main", PATCH).splitlines()
           if "canaryTrafficPercent" not in line]
    assert now == base


def test_max_steps_leaves_it_open_and_resume_finishes_it(remote, tmp_path):
    out = tmp_path / "c.json"
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--max-steps", "2", json_path=out) == 0
    outputs = json.loads(out.read_text())["outputs"]
    assert outputs["outcome"] == "open" and outputs["step"] == "2/4"
    assert "--max-steps 2 reached" in outputs["message"]
    assert traffic(remote) == "5"
    cid = trailers(remote)["Mlgate-Canary-Id"]
    # a second canary while this one is open: refused, nothing landed
    at = head(remote)
    assert canary(remote, "--image", f"{IMG}:v1.6.0") == 2
    assert head(remote) == at
    # the same image again (a scheduled job, one step per run): the open canary goes on
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--max-steps", "1") == 0
    assert trailers(remote)["Mlgate-Canary"] == ["3/4"]
    assert trailers(remote)["Mlgate-Canary-Id"] == cid
    assert canary(remote, "--resume", json_path=out) == 0
    outputs = json.loads(out.read_text())["outputs"]
    assert outputs["outcome"] == "completed"
    result = json.loads(out.read_text())["result"]
    assert [(s["step"], s["resumed"]) for s in result["steps"]] == [(3, True), (4, False)]
    assert traffic(remote) == "100" and trailers(remote)["Mlgate-Canary-Id"] == cid
    assert canary(remote, "--resume") == 2   # nothing open any more


def test_abort_sends_traffic_to_zero_then_restores_what_ran_before(remote, tmp_path):
    before = head(remote)
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--max-steps", "3") == 0
    steps = git(remote, "log", "--format=%H", f"{before}..main").split()
    out = tmp_path / "a.json"
    assert canary(remote, "--abort", "--reason", "latency regression seen by hand",
                  json_path=out) == 1
    commits = git(remote, "log", "--format=%H", f"{before}..main").split()
    assert len(commits) == 5
    zero, back = commits[1], commits[0]
    assert traffic(remote, zero) == "0"
    assert trailers(remote, zero)["Mlgate-Canary"] == ["aborted"]
    t = trailers(remote, back)
    assert t["Mlgate-Rollback-Of"] == [" ".join([zero, *steps])]
    assert t["Mlgate-Rollback-Reason"] == ["latency regression seen by hand"]
    assert t["Mlgate-Canary"] == ["rolled-back"]
    # the image restored; KServe's share kept at 0 %: the revision that rolled out before the
    # canary keeps all traffic while the restored one starts (100 % would go to the newest
    # ready revision meanwhile: the aborted canary's)
    assert trailers(remote, zero)["Mlgate-Set-Undo"] == [
        f"{PATCH}:spec.predictor.canaryTrafficPercent=0"]
    assert traffic(remote) == "0" and "newTag: v1.4.0" in show(remote, "main", KUSTOMIZATION)
    outputs = json.loads(out.read_text())["outputs"]
    assert outputs["outcome"] == "rolled-back" and outputs["rolled-back"] == "true"
    assert outputs["rollback-commit"] == back
    # closed: another canary may start
    assert canary(remote, "--abort") == 2
    assert canary(remote, "--image", f"{IMG}:v1.6.0", "--max-steps", "1") == 0


def test_resume_finishes_an_abort_whose_rollback_did_not_land(remote):
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--max-steps", "1") == 0
    # the job that aborted died after its first commit: do that commit by hand
    from mlgate.canary.steps import open_canary
    from mlgate.promote.history import read_history
    from mlgate.stages.canary import STAGE
    from mlgate.stages.params import values_from

    values = values_from(STAGE.params, {"repo": str(remote), "app": "churn", "path": "apps/churn",
                                        "environment": "production", "resume": True},
                         where="test")
    cfg = STAGE.config_from(values, ENV)
    from mlgate.canary import run as canary_run

    found = open_canary(read_history(cfg.promote.target, "churn", "production"))
    assert found is not None
    state = canary_run._Run(cfg, found.id, images=canary_run._recorded_images(found))
    from mlgate.promote.promote import promote

    promote(canary_run._step_config(state, 1, 4, 0, "aborted"))
    assert trailers(remote)["Mlgate-Canary"] == ["aborted"]
    assert canary(remote, "--resume") == 1
    t = trailers(remote)
    assert t["Mlgate-Canary"] == ["rolled-back"] and "finished" in t["Mlgate-Rollback-Reason"][0]
    assert "newTag: v1.4.0" in show(remote, "main", KUSTOMIZATION)


def test_mlgate_rollback_undoes_a_finished_canary_as_one_promotion(remote):
    assert canary(remote, "--image", f"{IMG}:v1.5.0") == 0
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production"], environ=ENV)
    assert code == 0
    assert "newTag: v1.4.0" in show(remote, "main", KUSTOMIZATION)
    # finished: the canary's revision rolled out, so the restored one takes all traffic again
    assert traffic(remote) == "100"
    assert len(trailers(remote)["Mlgate-Rollback-Of"][0].split()) == 4
    assert "Mlgate-Set-Undo" not in trailers(remote, "main~1")


def test_mlgate_rollback_of_an_open_canary_keeps_the_share_at_zero(remote):
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--max-steps", "2") == 0
    code = main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production"], environ=ENV)
    assert code == 0
    assert "newTag: v1.4.0" in show(remote, "main", KUSTOMIZATION) and traffic(remote) == "0"
    assert len(trailers(remote)["Mlgate-Rollback-Of"][0].split()) == 2
    assert canary(remote, "--resume") == 2   # closed by the rollback


def test_resume_checks_steps_and_image_against_the_record(remote):
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--max-steps", "1") == 0
    at = head(remote)
    assert canary(remote, "--resume", "--steps", "1,50,100") == 2
    assert canary(remote, "--resume", "--steps", "2,5,25,100") == 2
    assert canary(remote, "--resume", "--image", f"{IMG}:v1.6.0") == 2
    assert head(remote) == at
    assert canary(remote, "--resume", "--image", f"{IMG}:v1.5.0", "--max-steps", "1") == 0
    assert trailers(remote)["Mlgate-Canary"] == ["2/4"]


@pytest.mark.parametrize("args,says", [
    (("--image", f"{IMG}:v1.5.0", "--steps", "5,1,100"), "--steps"),
    (("--image", f"{IMG}:v1.5.0", "--steps", "1,50"), "the last step is 100"),
    (("--image", f"{IMG}:v1.5.0", "--mode", "pull-request"), "--mode pull-request"),
    (("--image", f"{IMG}:v1.5.0", "--resume", "--abort"), "do not go together"),
    (("--image", f"{IMG}:v1.5.0", "--reason", "x"), "--reason goes with --abort"),
    ((), "give --image"),
    (("--resume",), "no open canary"),
    (("--abort",), "no open canary"),
    (("--image", f"{IMG}:v1.5.0", "--check", "error-rate:max=1%"), "--check needs --prometheus"),
    (("--image", f"{IMG}:v1.5.0", "--prometheus", "http://127.0.0.1:9"), "without --check"),
    (("--image", f"{IMG}:v1.5.0", "--prometheus", "http://127.0.0.1:9", "--check",
      "name=x,query=up{pod=~{canary}},max=1"), "{canary} must stand inside"),
    (("--image", f"{IMG}:v1.5.0", "--workload", "deployment/ml/churn"), "needs the controller"),
    (("--image", f"{IMG}:v1.5.0", "--traffic-field", "../staging/model-version.yaml:spec.x"),
     "inside the environment folder"),
    (("--image", f"{IMG}:v1.5.0", "--traffic-field", "model-version.yaml:spec.x=5"),
     "--traffic-field"),
    (("--image", f"{IMG}:v1.5.0", "--traffic-field", "noColon"), "--traffic-field"),
    (("--image", f"{IMG}:v1.5.0", "--traffic-field", "a.yaml:x=stable"),
     "exactly one field carries"),
    (("--image", f"{IMG}:v1.5.0", "--traffic-field", "model-version.yaml:spec.weight"),
     "no value there"),
    (("--image", f"{IMG}:v1.5.0", "--argocd-app", "churn"), "Argo CD server"),
])
def test_bad_input_is_exit_2_naming_it_and_lands_nothing(remote, tmp_path, capsys, args, says):
    at = head(remote)
    out = tmp_path / "c.json"
    assert canary(remote, *args, json_path=out) == 2
    err = capsys.readouterr().err
    assert says in err
    assert head(remote) == at
    assert not out.exists() or json.loads(out.read_text())["exit_code"] == 2


def test_a_two_way_split_sets_both_weights(tmp_path):
    route = ("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n"
             "  name: churn\nspec:\n  rules:\n    - backendRefs:\n        - name: churn-stable\n"
             "          weight: 100\n        - name: churn-canary\n          weight: 0\n")
    deploy = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: churn-canary\nspec:\n"
              "  template:\n    spec:\n      containers:\n        - name: model\n"
              f"          image: {IMG}:v1.4.0\n")
    remote = bare_from_tree(tmp_path, {"production/route.yaml": route,
                                       "production/canary.yaml": deploy})
    args = ["canary", "--repo", str(remote), "--app", "churn", "--environment", "production",
            "--image", f"{IMG}:v1.5.0", "--steps", "10,100",
            "--traffic-field", "route.yaml:spec.rules[0].backendRefs[name=churn-canary].weight",
            "--traffic-field",
            "route.yaml:spec.rules[0].backendRefs[name=churn-stable].weight=stable"]
    assert main(args, environ=ENV) == 0
    first = show(remote, "main~1", "production/route.yaml")
    assert "name: churn-stable\n          weight: 90" in first
    assert "name: churn-canary\n          weight: 10" in first
    last = show(remote, "main", "production/route.yaml")
    assert "weight: 0\n        - name: churn-canary\n          weight: 100" in last
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--environment",
                 "production"], environ=ENV) == 0
    assert show(remote, "main", "production/route.yaml") == route
    assert f"{IMG}:v1.4.0" in show(remote, "main", "production/canary.yaml")


def test_several_inference_services_need_the_field_named(tmp_path, capsys):
    isvc = ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n"
            "  name: {name}\nspec:\n  predictor:\n    model:\n      storageUri: s3://m/1\n"
            f"      image: {IMG}:v1.4.0\n")
    remote = bare_from_tree(tmp_path, {"production/a.yaml": isvc.format(name="fraud"),
                                       "production/b.yaml": isvc.format(name="other")})
    at = head(remote)
    argv = ["canary", "--repo", str(remote), "--app", "churn", "--environment", "production",
            "--image", f"{IMG}:v1.5.0"]
    assert main(argv, environ=ENV) == 2
    assert "several InferenceServices" in capsys.readouterr().err and head(remote) == at
    # the one named after the app is chosen among several
    remote2 = bare_from_tree(tmp_path, {"production/a.yaml": isvc.format(name="churn"),
                                        "production/b.yaml": isvc.format(name="other")},
                             name="two.git")
    assert main(["canary", "--repo", str(remote2), "--app", "churn", "--environment",
                 "production", "--image", f"{IMG}:v1.5.0", "--steps", "100"],
                environ=ENV) == 0
    assert "canaryTrafficPercent: 100" in show(remote2, "main", "production/a.yaml")
    assert "canaryTrafficPercent" not in show(remote2, "main", "production/b.yaml")


def test_only_the_last_steps_verification_looks_for_an_alias_to_confirm(remote, tmp_path,
                                                                       bare_prometheus,
                                                                       monkeypatch):
    """Only the last step moves the registry alias, so only its commit can leave one waiting
    (--alias-when verified); looking for it after every step cost a read of the history each
    time (a clone of the config repo)."""
    import mlgate.promote.verified_alias as verified_alias

    looked: list[str] = []
    real = verified_alias.confirm_alias

    def spy(target, app, environment, of, tracking_uri):
        looked.append(of)
        return real(target, app, environment, of, tracking_uri)

    monkeypatch.setattr(verified_alias, "confirm_alias", spy)
    before = head(remote)
    out = tmp_path / "c.json"
    assert canary(remote, "--image", f"{IMG}:v1.5.0", "--prometheus", bare_prometheus.url,
                  "--check", "name=one,query=vector(1),min=1", "--interval", "0.1s",
                  "--count", "1", json_path=out) == 0
    steps = json.loads(out.read_text())["result"]["steps"]
    assert [s["verify"] for s in steps] == ["Successful"] * 4
    assert looked == [head(remote)] and len(git(remote, "log", "--format=%H",
                                                 f"{before}..main").split()) == 4
