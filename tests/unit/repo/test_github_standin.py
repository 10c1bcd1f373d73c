"""The GitHub stand-in's issues and Actions endpoints (tests/standins/github_api.py) answer a
plain HTTP client as GitHub's REST documentation says: status codes, JSON shapes, GitHub's
error bodies and messages, the `created` filter's search syntax, and a dispatched run that is
listed only later."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from standins.github_api import (
    PULL_TOKEN,
    READ_TOKEN,
    STRANGER_TOKEN,
    WRITE_TOKEN,
    GitHubStandIn,
)

REPO = "/repos/acme/model"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with GitHubStandIn(tmp_path / "gh", name="model") as standin:
        standin.add_workflow(".github/workflows/train.yml", name="train",
                             inputs=("reason", "value"), required=("reason",))
        yield standin


def call(server: GitHubStandIn, method: str, path: str, body: Any = None,
         token: str = WRITE_TOKEN) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.api_url + path, data=data, method=method)
    request.add_header("Authorization", f"token {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None, dict(answer.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None, dict(exc.headers)


# --------------------------------------------------------------------------- issues


def test_create_issue_answers_201_with_number_url_and_created_labels(server):
    status, issue, headers = call(server, "POST", f"{REPO}/issues",
                                  {"title": "drift", "body": "text", "labels": ["ops", "bug"]})
    assert status == 201 and issue["number"] == 1 and issue["state"] == "open"
    assert issue["html_url"] == f"{server.html_url}/acme/model/issues/1"
    assert headers["location"] == f"{server.api_url}{REPO}/issues/1"
    assert [label["name"] for label in issue["labels"]] == ["ops", "bug"]
    assert "ops" in server.repo_labels and "pull_request" not in issue


def test_issue_and_pull_request_numbers_are_shared(server):
    server.repo.commit_on("topic", {"a.txt": "a\n"}, "topic")
    status, pull, _ = call(server, "POST", f"{REPO}/pulls",
                           {"title": "pr", "head": "topic", "base": "main"})
    assert status == 201 and pull["number"] == 1
    assert call(server, "POST", f"{REPO}/issues", {"title": "t"})[1]["number"] == 2
    status, listed, _ = call(server, "GET", f"{REPO}/issues")
    assert [(i["number"], "pull_request" in i) for i in listed] == [(2, False), (1, True)]


@pytest.mark.parametrize(("body", "token", "status", "message"), [
    ({"title": "t"}, READ_TOKEN, 403, "Resource not accessible by integration"),
    ({"title": "t"}, STRANGER_TOKEN, 404, "Not Found"),
    ({"body": "no title"}, WRITE_TOKEN, 422, 'Invalid request.\n\n"title" wasn\'t supplied.'),
    ({"title": "t", "labels": "ops"}, WRITE_TOKEN, 422,
     "Invalid request.\n\nFor 'properties/labels', \"ops\" is not an array."),
    ({"title": "t", "labels": ["new"]}, PULL_TOKEN, 403,
     "Resource not accessible by personal access token"),
])
def test_create_issue_refusals(server, body, token, status, message):
    answer_status, answer, _ = call(server, "POST", f"{REPO}/issues", body, token)
    assert (answer_status, answer["message"]) == (status, message)
    assert answer["documentation_url"].startswith("https://docs.github.com")
    assert server.issues == {}


@pytest.mark.parametrize(("field", "limit"), [("title", 256), ("body", 65536)])
def test_too_long_title_or_body_is_a_validation_error(server, field, limit):
    body = {"title": "t", field: "x" * (limit + 1)}
    status, answer, _ = call(server, "POST", f"{REPO}/issues", body)
    assert status == 422 and answer["message"] == "Validation Failed"
    assert answer["errors"] == [{"resource": "Issue", "code": "custom", "field": field,
                                 "message": f"{field} is too long (maximum is {limit} "
                                            "characters)"}]
    assert call(server, "POST", f"{REPO}/issues", {"title": "t", field: "x" * limit}
                if field == "body" else {"title": "x" * limit})[0] == 201


def test_a_pull_only_users_existing_labels_are_dropped(server):
    status, issue, _ = call(server, "POST", f"{REPO}/issues",
                            {"title": "t", "labels": ["bug"]}, PULL_TOKEN)
    assert status == 201 and issue["labels"] == []


def test_disabled_issues_answer_410(server):
    server.has_issues = False
    for method, body in (("POST", {"title": "t"}), ("GET", None)):
        status, answer, _ = call(server, method, f"{REPO}/issues", body)
        assert (status, answer["message"]) == (410, "Issues are disabled for this repo")
    assert call(server, "GET", REPO)[1]["has_issues"] is False


def test_list_issues_since_filters_on_updated_time(server):
    call(server, "POST", f"{REPO}/issues", {"title": "old"})
    server.issues[1]["updated_at"] -= 3600
    call(server, "POST", f"{REPO}/issues", {"title": "new"})
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    status, listed, _ = call(server, "GET", f"{REPO}/issues?since={since}")
    assert status == 200 and [i["title"] for i in listed] == ["new"]
    assert call(server, "GET", f"{REPO}/issues?since=yesterday")[0] == 422


# --------------------------------------------------------------------------- workflows


def test_get_workflow_by_id_or_file_name(server):
    workflow = next(iter(server.workflows.values()))
    by_id = call(server, "GET", f"{REPO}/actions/workflows/{workflow.id}")[1]
    by_name = call(server, "GET", f"{REPO}/actions/workflows/train.yml")[1]
    assert by_id == by_name
    assert by_id["path"] == ".github/workflows/train.yml" and by_id["state"] == "active"
    assert by_id["url"] == f"{server.api_url}{REPO}/actions/workflows/{workflow.id}"
    assert call(server, "GET", f"{REPO}/actions/workflows/nope.yml")[0] == 404


def test_dispatch_answers_204_without_a_body_and_starts_a_run(server):
    status, answer, _ = call(server, "POST", f"{REPO}/actions/workflows/train.yml/dispatches",
                             {"ref": "main", "inputs": {"reason": "drift"}})
    assert (status, answer) == (204, None)
    (run,) = server.runs
    assert run.event == "workflow_dispatch" and run.inputs == {"reason": "drift"}
    assert run.head_sha == server.head() and run.actor == server.login


@pytest.mark.parametrize(("workflow", "body", "status", "message"), [
    ("nope.yml", {"ref": "main"}, 404, "Not Found"),
    ("train.yml", {"inputs": {}}, 422, 'Invalid request.\n\n"ref" wasn\'t supplied.'),
    ("train.yml", {"ref": "main", "inputs": {"reason": "x", "other": "y"}}, 422,
     'Unexpected inputs provided: ["other"]'),
    ("train.yml", {"ref": "main", "inputs": {"value": "1"}}, 422,
     "Required input 'reason' not provided"),
    ("train.yml", {"ref": "main", "inputs": {"reason": 1}}, 422,
     "Invalid request.\n\nFor 'properties/reason', 1 is not a string."),
    ("train.yml", {"ref": "gone", "inputs": {"reason": "x"}}, 422, "No ref found for: gone"),
    ("train.yml", {"ref": "main", "inputs": {f"i{n}": "x" for n in range(11)}}, 422,
     "Too many inputs provided: 11 (at most 10)"),
    ("ci.yml", {"ref": "main"}, 422, "Workflow does not have 'workflow_dispatch' trigger"),
    ("off.yml", {"ref": "main"}, 422,
     "Cannot trigger a 'workflow_dispatch' on a disabled workflow"),
])
def test_dispatch_refusals(server, workflow, body, status, message):
    server.add_workflow(".github/workflows/ci.yml", dispatch=False)
    server.add_workflow(".github/workflows/off.yml", state="disabled_manually")
    answer_status, answer, _ = call(server, "POST",
                                    f"{REPO}/actions/workflows/{workflow}/dispatches", body)
    assert (answer_status, answer["message"]) == (status, message)
    assert server.runs == []


def test_dispatch_needs_actions_write(server):
    status, answer, _ = call(server, "POST", f"{REPO}/actions/workflows/train.yml/dispatches",
                             {"ref": "main", "inputs": {"reason": "x"}}, READ_TOKEN)
    assert (status, answer["message"]) == (403, "Resource not accessible by integration")


def test_a_tag_or_a_full_ref_can_be_dispatched(server):
    server.repo.git("tag", "v1", server.head())
    for ref in ("v1", "refs/heads/main"):
        body = {"ref": ref, "inputs": {"reason": "x"}}
        assert call(server, "POST", f"{REPO}/actions/workflows/train.yml/dispatches",
                    body)[0] == 204
    assert [r.head_branch for r in server.runs] == ["v1", "main"]


# --------------------------------------------------------------------------- runs


def runs(server: GitHubStandIn, query: str = "") -> tuple[int, Any]:
    status, answer, _ = call(server, "GET", f"{REPO}/actions/workflows/train.yml/runs{query}")
    return status, answer


def test_runs_are_listed_newest_first_with_filters(server):
    workflow = next(iter(server.workflows.values()))
    server.repo.commit_on("dev", {"a.txt": "a\n"}, "dev")
    old = server.add_run(workflow, "main", event="workflow_dispatch",
                         created_at=time.time() - 7200)
    push = server.add_run(workflow, "main", event="push")
    dev = server.add_run(workflow, "dev", event="workflow_dispatch")
    status, answer = runs(server)
    assert status == 200 and answer["total_count"] == 3
    assert [r["id"] for r in answer["workflow_runs"]] == [dev.id, push.id, old.id]
    first = answer["workflow_runs"][0]
    assert first["html_url"] == f"{server.html_url}/acme/model/actions/runs/{dev.id}"
    assert first["event"] == "workflow_dispatch" and first["head_branch"] == "dev"
    assert first["workflow_id"] == workflow.id and first["status"] == "queued"
    listed = runs(server, "?event=workflow_dispatch&branch=main")[1]["workflow_runs"]
    assert [r["id"] for r in listed] == [old.id]
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    recent = runs(server, f"?created=%3E%3D{hour_ago}")[1]["workflow_runs"]
    assert [r["id"] for r in recent] == [dev.id, push.id]
    before = runs(server, f"?created=%3C{hour_ago}")[1]["workflow_runs"]
    assert [r["id"] for r in before] == [old.id]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert runs(server, f"?created={today}")[1]["total_count"] >= 2
    assert runs(server, f"?created={hour_ago}..*")[1]["total_count"] == 2
    assert runs(server, "?created=%3E%3Dsoon")[0] == 422


def test_a_dispatched_run_is_listed_only_after_the_lag(server):
    server.dispatch_lag(requests=2)
    call(server, "POST", f"{REPO}/actions/workflows/train.yml/dispatches",
         {"ref": "main", "inputs": {"reason": "x"}})
    counts = [runs(server)[1]["total_count"] for _ in range(3)]
    assert counts == [0, 0, 1]
    server.dispatch_lag(seconds=0.4)
    call(server, "POST", f"{REPO}/actions/workflows/train.yml/dispatches",
         {"ref": "main", "inputs": {"reason": "x"}})
    assert runs(server)[1]["total_count"] == 1
    time.sleep(0.5)
    assert runs(server)[1]["total_count"] == 2


def test_runs_are_paginated_with_a_link_header(server):
    workflow = next(iter(server.workflows.values()))
    for _ in range(3):
        server.add_run(workflow)
    status, answer, headers = call(server, "GET",
                                   f"{REPO}/actions/workflows/train.yml/runs?per_page=2")
    assert status == 200 and len(answer["workflow_runs"]) == 2 and answer["total_count"] == 3
    assert 'rel="next"' in headers["link"]
