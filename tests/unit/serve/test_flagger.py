"""Flagger's rules per hook type, on their own: which status each verdict gets (Flagger acts on
status <= 202 only), and which payloads are Flagger's."""

from __future__ import annotations

import pytest

from mlgate.errors import BadInput
from mlgate.serve.checks import CheckAnswer, Round
from mlgate.serve.flagger import GATES, HOOKS, checks_of, decide, parse_payload, token_of


def found(phase: str) -> Round:
    answer = CheckAnswer("error-rate", "q", phase, 0.5 if phase == "Failed" else None,
                         None, 0.01, "ratio", None, "2026-01-01T00:00:00Z", f"why {phase}")
    return Round(phase, (answer,), f"message {phase}")


def hook(kind: str, phase: str = "Progressing", **meta: str):
    return parse_payload(kind, {"name": "churn", "namespace": "serving", "phase": phase,
                                "checksum": "85d557f47b", "metadata": meta})


# Flagger goes on at <= 202: the status for (hook, verdict)
EXPECTED = {
    **{(g, "Successful"): (200, "proceed") for g in GATES},
    **{(g, "Failed"): (412, "halt") for g in GATES},
    **{(g, "Inconclusive"): (412, "halt") for g in GATES},
    **{(g, "Error"): (503, "halt") for g in GATES},
    ("rollback", "Successful"): (412, "continue"),
    ("rollback", "Failed"): (200, "rollback"),
    ("rollback", "Inconclusive"): (412, "continue"),
    ("rollback", "Error"): (503, "continue"),
}


@pytest.mark.parametrize("kind, verdict", sorted(EXPECTED))
def test_each_hook_type_answers_each_verdict_as_flagger_reads_it(kind, verdict) -> None:
    phase = "Succeeded" if kind == "post-rollout" else "Progressing"
    call = hook(kind, phase)
    assert call.judged
    reply = decide(call, found(verdict))
    assert (reply.status, reply.decision) == EXPECTED[(kind, verdict)]
    assert reply.body["decision"] == reply.decision and reply.body["hook"] == kind
    assert reply.body["canary"] == "serving/churn" and reply.body["phase"] == verdict
    assert reply.body["message"] == f"message {verdict}"
    assert reply.body["checks"] == [{"name": "error-rate", "phase": verdict,
                                     "value": 0.5 if verdict == "Failed" else None,
                                     "min": None, "max": 0.01, "baseline": None,
                                     "message": f"why {verdict}"}]
    assert list(reply.body)[0] == "message"     # what Flagger's event shows first


@pytest.mark.parametrize("phase", ["Failed", "Terminating", "Progressing"])
def test_post_rollout_judges_only_a_succeeded_canary(phase) -> None:
    call = hook("post-rollout", phase)
    assert not call.judged
    reply = decide(call, None)
    assert (reply.status, reply.decision) == (200, "noted")
    assert reply.body == {"message": f"the canary ended {phase}: nothing to judge",
                          "hook": "post-rollout", "canary": "serving/churn",
                          "decision": "noted"}
    assert all(hook(k, phase).judged for k in HOOKS if k != "post-rollout")


def test_the_payload_flagger_sends() -> None:
    call = hook("rollout", checks="error-rate:max=1%\n\n  p95-latency:max=500ms \n",
                app="churn-v2", token="t" * 20)
    assert (call.hook, call.name, call.namespace, call.phase, call.checksum) == (
        "rollout", "churn", "serving", "Progressing", "85d557f47b")
    assert checks_of(call) == ["error-rate:max=1%", "  p95-latency:max=500ms "]
    assert call.canary == "serving/churn"
    # metadata omitted (Flagger's omitempty) and a missing checksum are accepted
    bare = parse_payload("rollout", {"name": "a", "namespace": "b", "phase": "Waiting"})
    assert (bare.checksum, dict(bare.metadata), checks_of(bare)) == ("", {}, [])


@pytest.mark.parametrize("doc, words", [
    ([], "not a JSON object"),
    ({"namespace": "b", "phase": "Waiting"}, "'name' is missing or not a string"),
    ({"name": "a", "phase": "Waiting"}, "'namespace' is missing"),
    ({"name": "a", "namespace": "b"}, "'phase' is missing"),
    ({"name": 1, "namespace": "b", "phase": "Waiting"}, "'name' is missing or not a string"),
    ({"name": "a", "namespace": "b", "phase": "waiting"}, "not a Canary phase"),
    ({"name": "a", "namespace": "b", "phase": "W" * 41}, "not a Canary phase"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "checksum": 5}, "checksum"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "checksum": "a" * 65}, "checksum"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "metadata": "x"}, "metadata is not"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "metadata": {"cmd": "x"}},
     "metadata 'cmd' is not one of checks, app, evidence, environment, model-version, "
     "window, token"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "metadata": {"app": ["x"]}},
     "metadata app: not a string of at most 8192 characters"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "metadata": {"app": "x" * 8193}},
     "metadata app: not a string"),
])
def test_what_flagger_would_not_send_is_refused(doc, words) -> None:
    with pytest.raises(BadInput) as caught:
        parse_payload("rollout", doc)
    assert words in str(caught.value)


@pytest.mark.parametrize("doc, message", [
    ("x", "the body is not a JSON object (Flagger sends {name, namespace, phase, checksum, "
          "metadata})"),
    ({"name": "a", "namespace": "b", "phase": "w" * 50},
     f"the payload's phase {'w' * 40!r} is not a Canary phase"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "checksum": "-"},
     "the payload's checksum is not Flagger's (letters and digits)"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "metadata": 1},
     "the payload's metadata is not an object of strings"),
    ({"name": "a", "namespace": "b", "phase": "Waiting", "metadata": {"k" * 50: "v"}},
     f"metadata {'k' * 40!r} is not one of checks, app, evidence, environment, "
     "model-version, window, token"),
])
def test_refusals_say_exactly_what_is_wrong(doc, message) -> None:
    with pytest.raises(BadInput) as caught:
        parse_payload("rollout", doc)
    assert str(caught.value) == message


def test_names_are_kubernetes_names_and_the_message_says_which() -> None:
    with pytest.raises(BadInput) as caught:
        parse_payload("rollout", {"name": "A", "namespace": "b", "phase": "Waiting"})
    assert str(caught.value).startswith("the payload's name: 'A' is not a Kubernetes object "
                                        "name")
    with pytest.raises(BadInput) as caught:
        parse_payload("rollout", {"name": "a", "namespace": "b.c", "phase": "Waiting"})
    assert str(caught.value).startswith("the payload's namespace: 'b.c' is not a Kubernetes "
                                        "namespace")


def test_limits_are_inclusive() -> None:
    ok = parse_payload("rollout", {"name": "a", "namespace": "b", "phase": "W" * 40,
                                   "checksum": "a" * 64, "metadata": {"app": "x" * 8192}})
    assert ok.phase == "W" * 40


def test_the_token_is_read_from_the_metadata_only() -> None:
    assert token_of({"metadata": {"token": "abc"}}) == "abc"
    for doc in ({"token": "abc"}, {"metadata": {"token": 5}}, {"metadata": "token"}, [], None,
                {"metadata": None}):
        assert token_of(doc) is None
