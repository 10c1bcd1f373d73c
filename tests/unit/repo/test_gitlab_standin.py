"""The GitLab stand-in's issues and pipelines endpoints (tests/standins/gitlab_api.py) answer a
plain HTTP client as GitLab's REST documentation and its pipeline creation chain do: status
codes, JSON shapes, Grape's {"error": ...} and render_validation_error!'s {"message": {"base":
[...]}} bodies, in the order GitLab checks them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from standins.gitlab_api import GitLabApiServer, Grant

TOKEN = "glpat-standinSelfTest000000000001"
READ = "glpat-standinSelfTestRead00000002"
MAINTAINER = "glpat-standinSelfTestMaint0000003"
JOB = "glcbt-standinSelfTestJob000000004"
PROJECT = "ml/model"
API = f"/api/v4/projects/{quote(PROJECT, safe='')}"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    tokens = {TOKEN: Grant("write"), READ: Grant("read"),
              MAINTAINER: Grant("write", maintainer=True)}
    with GitLabApiServer(tmp_path / "gl", tokens=tokens, job_tokens={JOB: "write"}) as standin:
        standin.create_project(PROJECT)
        yield standin


def call(server: GitLabApiServer, method: str, path: str, body: Any = None,
         token: str = TOKEN, header: str = "PRIVATE-TOKEN") -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method)
    request.add_header(header, token)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


# --------------------------------------------------------------------------- issues


def test_new_incident_issue_answers_201_and_creates_its_labels(server):
    status, issue = call(server, "POST", f"{API}/issues",
                         {"title": "drift", "description": "text", "labels": "mlgate,incident",
                          "issue_type": "incident"})
    assert status == 201 and issue["iid"] == 1 and issue["state"] == "opened"
    assert issue["issue_type"] == "incident" and issue["type"] == "INCIDENT"
    assert issue["web_url"] == f"{server.url}/{PROJECT}/-/issues/1"
    assert issue["labels"] == ["mlgate", "incident"]
    assert server.projects[PROJECT].labels == ["mlgate", "incident"]
    assert call(server, "POST", f"{API}/issues", {"title": "t"})[1]["issue_type"] == "issue"


@pytest.mark.parametrize(("body", "token", "status", "answer"), [
    ({"description": "x"}, TOKEN, 400, {"error": "title is missing"}),
    ({"title": "t", "issue_type": "outage"}, TOKEN, 400,
     {"error": "issue_type does not have a valid value"}),
    ({"title": "x" * 256}, TOKEN, 400,
     {"message": {"title": ["is too long (maximum is 255 characters)"]}}),
    ({"title": "t"}, READ, 403, {"message": "403 Forbidden"}),
    ({"title": "t"}, "glpat-nobody", 401, {"message": "401 Unauthorized"}),
])
def test_new_issue_refusals(server, body, token, status, answer):
    assert call(server, "POST", f"{API}/issues", body, token) == (status, answer)
    assert server.projects[PROJECT].issues == {}


def test_disabled_issues_and_missing_projects(server):
    server.projects[PROJECT].issues_enabled = False
    assert call(server, "POST", f"{API}/issues", {"title": "t"}) == (403,
                                                                     {"message": "403 Forbidden"})
    assert call(server, "POST", "/api/v4/projects/ml%2Fgone/issues", {"title": "t"}) == (
        404, {"message": "404 Project Not Found"})


def test_issues_are_searched_in_title_and_description(server):
    for title, text in (("one", "has marker abc123"), ("two", "nothing")):
        call(server, "POST", f"{API}/issues", {"title": title, "description": text})
    status, found = call(server, "GET", f"{API}/issues?search=abc123")
    assert status == 200 and [i["title"] for i in found] == ["one"]
    assert [i["iid"] for i in call(server, "GET", f"{API}/issues")[1]] == [2, 1]


# --------------------------------------------------------------------------- pipelines


def test_new_pipeline_answers_201_with_id_and_web_url(server):
    variables = [{"key": "MLGATE_CHECK", "value": "drift"}]
    status, pipeline = call(server, "POST", f"{API}/pipeline",
                            {"ref": "main", "variables": variables})
    assert status == 201 and pipeline["status"] == "created" and pipeline["source"] == "api"
    assert pipeline["web_url"] == f"{server.url}/{PROJECT}/-/pipelines/{pipeline['id']}"
    assert pipeline["sha"] == server.head(PROJECT, "main") and pipeline["ref"] == "main"
    stored = server.projects[PROJECT].pipelines[pipeline["id"]]
    assert stored["variables"] == [{**variables[0], "variable_type": "env_var"}]


@pytest.mark.parametrize(("setup", "body", "token", "status", "answer"), [
    (None, {"variables": []}, TOKEN, 400, {"error": "ref is missing"}),
    (None, {"ref": "main", "variables": "A=1"}, TOKEN, 400, {"error": "variables is invalid"}),
    (None, {"ref": "main", "variables": [{"key": "A", "value": "1", "variable_type": "x"}]},
     TOKEN, 400, {"error": "variables[variable_type] does not have a valid value"}),
    (None, {"ref": "gone"}, TOKEN, 400, {"message": {"base": ["Reference not found"]}}),
    ("no-variables", {"ref": "main", "variables": [{"key": "A", "value": "1"}]}, TOKEN, 400,
     {"message": {"base": ["Insufficient permissions to set pipeline variables"]}}),
    (None, {"ref": "main", "variables": [{"key": "A", "value": "1"}, {"key": "A", "value": "2"}]},
     TOKEN, 400, {"message": {"base": ["Duplicate variable name: A"]}}),
    ("protected", {"ref": "main"}, TOKEN, 400,
     {"message": {"base": ["Insufficient permissions for protected ref 'main'"]}}),
    ("no-ci", {"ref": "main"}, TOKEN, 400, {"message": {"base": ["Missing CI config file"]}}),
    ("rules", {"ref": "main"}, TOKEN, 400, {"message": {"base": [
        "Pipeline will not run for the selected trigger. The rules configuration prevented "
        "any jobs from being added to the pipeline."]}}),
    (None, {"ref": "main", "variables": [{"key": "BAD-KEY", "value": "1"}]}, TOKEN, 400,
     {"message": {"variables.key": ["can contain only letters, digits and '_'."]}}),
    (None, {"ref": "main"}, READ, 403, {"message": "403 Forbidden"}),
])
def test_new_pipeline_refusals(server, setup, body, token, status, answer):
    project = server.projects[PROJECT]
    if setup == "no-variables":
        project.pipeline_variables_allowed = False
    if setup == "protected":
        server.protect_branch(PROJECT, "main")
    if setup == "no-ci":
        project.ci_config = False
    if setup == "rules":
        project.pipeline_rules_skip = True
    assert call(server, "POST", f"{API}/pipeline", body, token) == (status, answer)
    assert project.pipelines == {}


def test_the_variables_check_comes_before_the_ref_check(server):
    """GitLab's chain: Build::Associations (variables) before Validate::Repository (ref)."""
    server.projects[PROJECT].pipeline_variables_allowed = False
    body = {"ref": "gone", "variables": [{"key": "A", "value": "1"}]}
    assert call(server, "POST", f"{API}/pipeline", body)[1]["message"]["base"] == [
        "Insufficient permissions to set pipeline variables"]


def test_a_maintainer_runs_on_a_protected_branch_and_tags_work(server):
    server.protect_branch(PROJECT, "main")
    assert call(server, "POST", f"{API}/pipeline", {"ref": "main"}, MAINTAINER)[0] == 201
    server.projects[PROJECT].git.run("tag", "v1", "main")
    status, pipeline = call(server, "POST", f"{API}/pipeline", {"ref": "v1"})
    assert status == 201 and pipeline["tag"] is True


def test_a_job_token_cannot_create_a_pipeline(server):
    assert call(server, "POST", f"{API}/pipeline", {"ref": "main"}, JOB, "JOB-TOKEN") == (
        401, {"message": "401 Unauthorized"})


def test_pipelines_are_listed_newest_first_with_filters(server):
    server.create_branch(PROJECT, "dev", "main")
    first = call(server, "POST", f"{API}/pipeline", {"ref": "main"})[1]
    dev = call(server, "POST", f"{API}/pipeline", {"ref": "dev"})[1]
    second = call(server, "POST", f"{API}/pipeline", {"ref": "main"})[1]
    status, listed = call(server, "GET", f"{API}/pipelines?ref=main&source=api")
    assert status == 200 and [p["id"] for p in listed] == [second["id"], first["id"]]
    ascending = call(server, "GET", f"{API}/pipelines?sort=asc")[1]
    assert [p["id"] for p in ascending] == [first["id"], dev["id"], second["id"]]
    assert call(server, "GET", f"{API}/pipelines?source=push")[1] == []
