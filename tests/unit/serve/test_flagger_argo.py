"""serve-analysis against a real Prometheus scraping a loopback exporter whose figures the test
drives, called as Flagger's controller and Argo Rollouts' web metric provider call it (see
support/analysis.py): the verdicts of verify's checks, per hook type and per measurement.

Each test uses its own app name on the session's Prometheus (support/prometheus.py)."""

from __future__ import annotations

import pytest
from support.analysis import (
    NS,
    TOKEN,
    argo_measure,
    evidence,
    flagger_call,
    payload,
    start,
)
from support.prometheus import p95

CHECKS = ("error-rate:max=1%", "p95-latency:max=500ms", "accuracy:max-drop=5%")


def settle(stack, app: str, *, error_ratio=0.0, latency=0.08, accuracy=0.95, rps=100.0,
           **labels: str) -> None:
    stack.exporter.traffic(app, NS, error_ratio=error_ratio, latency=latency, rps=rps)
    stack.exporter.accuracy(app, NS, accuracy, **labels)
    stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="{app}",namespace="{NS}",code="500"}}[1s])) / '
        f'sum(rate(http_requests_total{{app="{app}",namespace="{NS}"}}[1s]))',
        lambda vs: bool(vs) and abs(vs[0] - error_ratio) < 1e-6, timeout=20)


@pytest.fixture
def running(prometheus_stack, tmp_path):
    evidence(tmp_path / "evidence", "churn/benchmark.json", accuracy=0.95, version="7")
    server = start(prometheus_stack.url, evidence_dir=str(tmp_path / "evidence"))
    yield server
    server.stop()


def test_a_healthy_canary_passes_every_gate_of_flaggers_sequence(prometheus_stack, running):
    app = "serve-healthy"
    settle(prometheus_stack, app)
    body = dict(checks=CHECKS, evidence="churn/benchmark.json")
    # the order Flagger's scheduler calls them in for one canary, rollback hooks on every tick
    sequence = [("confirm-rollout", "Initialized"), ("pre-rollout", "Progressing"),
                ("rollback", "Progressing"), ("rollout", "Progressing"),
                ("confirm-traffic-increase", "Progressing"), ("rollback", "Progressing"),
                ("rollout", "Progressing"), ("confirm-promotion", "Progressing"),
                ("post-rollout", "Succeeded")]
    calls = [(hook, flagger_call(running, hook, payload(app, phase=phase, **body)))
             for hook, phase in sequence]
    for hook, call in calls:
        if hook == "rollback":   # 2xx from a rollback hook would roll the canary back
            assert (call.ok, call.status, call.body["decision"]) == (False, 412, "continue")
        else:
            assert (call.ok, call.status, call.body["decision"]) == (True, 200, "proceed"), call
    rollout = calls[3][1].body
    assert rollout["canary"] == f"{NS}/{app}" and rollout["phase"] == "Successful"
    checks = {c["name"]: c for c in rollout["checks"]}
    assert checks["error-rate"]["value"] == 0 and checks["error-rate"]["max"] == 0.01
    assert checks["p95-latency"]["value"] == pytest.approx(p95(0.08), rel=0.05)
    assert checks["accuracy"]["baseline"] == 0.95
    assert checks["accuracy"]["min"] == pytest.approx(0.9025)
    # one decision record per call, with the canary, the verdict and the figures
    records = running.log.decisions()
    assert [(r["hook"], r["status"]) for r in records] == [
        (hook, call.status) for hook, call in calls]
    assert records[3]["canary"] == f"{NS}/{app}" and records[3]["decision"] == "proceed"
    assert {c["name"] for c in records[3]["checks"]} == {"error-rate", "p95-latency", "accuracy"}
    assert TOKEN not in running.log.raw


def test_a_failing_canary_is_halted_and_the_rollback_hook_fires(prometheus_stack, running):
    app = "serve-failing"
    settle(prometheus_stack, app, error_ratio=0.2)
    body = dict(checks=CHECKS[:2])
    for hook in ("confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase",
                 "confirm-promotion", "post-rollout"):
        phase = "Succeeded" if hook == "post-rollout" else "Progressing"
        call = flagger_call(running, hook, payload(app, phase=phase, **body))
        assert (call.ok, call.status, call.body["decision"]) == (False, 412, "halt"), hook
        assert call.body["message"].startswith("error-rate 0.2 > 0.01"), call.body
    rollback = flagger_call(running, "rollback", payload(app, **body))
    assert (rollback.ok, rollback.status, rollback.body["decision"]) == (True, 200, "rollback")
    # after the rollback Flagger calls post-rollout with phase Failed: nothing left to judge
    after = flagger_call(running, "post-rollout", payload(app, phase="Failed", **body))
    assert (after.ok, after.body["decision"]) == (True, "noted")
    assert "checks" not in running.log.decisions()[-1]


def test_the_app_label_comes_from_metadata_or_the_canary_name(prometheus_stack, running):
    app = "serve-named"
    settle(prometheus_stack, app, error_ratio=0.5)
    # the canary is called otherwise; metadata.app names the pods' app label
    call = flagger_call(running, "rollout", payload("churn-canary", checks=["error-rate:max=1%"],
                                                    app=app))
    assert call.status == 412 and call.body["checks"][0]["value"] == 0.5
    unknown = flagger_call(running, "rollout", payload("churn-canary",
                                                       checks=["error-rate:max=1%"]))
    # no series for the canary's own name: no data is never a pass
    assert (unknown.ok, unknown.body["phase"]) == (False, "Inconclusive")
    assert "no data" in unknown.body["message"]


def test_argo_web_provider_measurements(prometheus_stack, running):
    good, bad, idle = "serve-argo-good", "serve-argo-bad", "serve-argo-idle"
    settle(prometheus_stack, good, latency=0.08)
    settle(prometheus_stack, bad, latency=0.9)
    prometheus_stack.exporter.traffic(idle, NS, rps=0)
    ok = argo_measure(running, good, "p95-latency:max=500ms", namespace=NS)
    assert (ok.phase, ok.status) == ("Successful", 200)
    assert ok.body["value"] == pytest.approx(p95(0.08), rel=0.05) and ok.body["max"] == 0.5
    assert 'app="serve-argo-good"' in ok.body["query"] and ok.body["unit"] == "seconds"
    failed = argo_measure(running, bad, "p95-latency:max=500ms", namespace=NS)
    assert (failed.phase, failed.status) == ("Failed", 200)
    assert failed.body["message"].startswith("p95-latency") and "> 500ms" in failed.body["message"]
    # no traffic: NaN, neither success nor failure for the AnalysisRun
    nothing = argo_measure(running, idle, "error-rate:max=1%", namespace=NS)
    assert (nothing.phase, nothing.status, nothing.body["value"]) == ("Inconclusive", 200, None)
    records = running.log.decisions()
    assert [r["source"] for r in records] == ["argo-rollouts"] * 3
    assert [r["phase"] for r in records] == ["Successful", "Failed", "Inconclusive"]


def test_accuracy_is_judged_against_the_evidence_that_promoted_the_model(prometheus_stack,
                                                                         running):
    app = "serve-accuracy"
    settle(prometheus_stack, app, accuracy=0.85)
    m = argo_measure(running, app, "accuracy:max-drop=5%", namespace=NS,
                     evidence="churn/benchmark.json")
    assert m.phase == "Failed" and m.body["baseline"] == 0.95
    assert m.body["min"] == pytest.approx(0.9025) and m.body["value"] == pytest.approx(0.85)
    prometheus_stack.exporter.accuracy(app, NS, 0.93)
    prometheus_stack.prometheus.wait_for(f'mlgate_model_accuracy{{app="{app}"}}',
                                         lambda vs: vs == [0.93])
    assert argo_measure(running, app, "accuracy:max-drop=5%", namespace=NS,
                        evidence="churn/benchmark.json").phase == "Successful"


def test_server_checks_are_named_by_requests_and_fill_the_model_version(prometheus_stack,
                                                                        tmp_path):
    app = "serve-version"
    settle(prometheus_stack, app, accuracy=0.9, model_version="7")
    evidence(tmp_path, "benchmark.json", version="7")
    query = ('max(mlgate_model_accuracy{app="{app}",namespace="{namespace}",'
             'model_version="{model_version}"})')
    server = start(prometheus_stack.url, evidence_dir=str(tmp_path),
                   checks=("error-rate:max=2%", f"name=live-version,query={query},min=0.5"))
    try:
        # the version the evidence names: the series of the promoted model
        live = argo_measure(server, app, "live-version", namespace=NS,
                            evidence="benchmark.json")
        assert (live.phase, live.body["value"]) == ("Successful", 0.9)
        assert 'model_version="7"' in live.body["query"]
        other = argo_measure(server, app, "live-version", namespace=NS, model_version="8")
        assert other.phase == "Inconclusive"     # no series of version 8
        # a bare built-in name takes the server's limits
        rate = argo_measure(server, app, "error-rate", namespace=NS)
        assert (rate.phase, rate.body["max"]) == ("Successful", 0.02)
        call = flagger_call(server, "rollout", payload(app, checks=["live-version",
                                                                    "error-rate"],
                                                       evidence="benchmark.json"))
        assert call.ok and [c["name"] for c in call.body["checks"]] == ["live-version",
                                                                        "error-rate"]
    finally:
        server.stop()
