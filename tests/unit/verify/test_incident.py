"""The incident issue of a Failed verify: where it goes (from the CI environment), what it says
(escaped Markdown: reason, checks, measurements, evidence digest, rollback commit, run), and
opening it through PyGithub and python-gitlab against the forge stand-ins -- every documented
refusal, rate limits, lost answers -- without ever raising or showing the token."""

from __future__ import annotations

import hashlib
import re
import socket
import time
import types
from pathlib import Path

import pytest
from standins.github_api import (
    PULL_TOKEN,
    READ_TOKEN,
    STRANGER_TOKEN,
    WRITE_TOKEN,
    GitHubStandIn,
)
from standins.gitlab_api import GitLabApiServer, Grant

from mlgate.errors import BadInput
from mlgate.verify.config import Incident
from mlgate.verify.incident import (
    BODY_MAX,
    TITLE_MAX,
    evidence_digest,
    incident_body,
    incident_from,
    incident_title,
    open_incident,
)
from mlgate.verify.result import ActionTaken, CheckResult, Measurement, VerifyResult

GL_TOKEN = "glpat-verifyIncidentToken00000001"
GL_READ = "glpat-verifyReadOnlyToken00000002"
PROJECT = "ml/churn-model"
SHA = "0123456789abcdef0123456789abcdef01234567"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def github(tmp_path: Path):
    with GitHubStandIn(tmp_path / "github", name="churn-model") as server:
        yield server


@pytest.fixture
def gitlab(tmp_path: Path):
    tokens = {GL_TOKEN: Grant("write"), GL_READ: Grant("read")}
    with GitLabApiServer(tmp_path / "gitlab", tokens=tokens) as server:
        server.create_project(PROJECT)
        yield server


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """python-gitlab's own sleeps (429 Retry-After), recorded instead of slept."""
    import gitlab.utils

    asked: list[float] = []
    monkeypatch.setattr(gitlab.utils, "time", types.SimpleNamespace(sleep=asked.append,
                                                                     time=time.time))
    return asked


def measurement(at: float, value: float | None, phase: str, message: str = "") -> Measurement:
    return Measurement(at, f"2026-01-01T00:00:{int(at) % 60:02d}Z", value, phase, message)


def result(tmp_path: Path, *, app: str = "churn", message: str | None = None,
           measure_message: str = "", actions: tuple[ActionTaken, ...] | None = None,
           query: str = 'sum(rate(x{app="churn"}[1m]))') -> VerifyResult:
    evidence = tmp_path / "benchmark.json"
    evidence.write_text('{"verdict": "passed"}\n')
    failed = CheckResult(
        "error-rate", query, None, 0.01, "ratio", "rollback", "Failed",
        (measurement(30, 0.002, "Successful"), measurement(60, 0.034, "Failed", measure_message),
         measurement(90, 0.05, "Failed")), 2, 0, 0, 0,
        reason="error-rate 0.05 > 0.01 (2 of 3 measurements)")
    passed = CheckResult("p95-latency", "histogram_quantile(0.95, ...)", None, 0.5, "seconds",
                         "rollback", "Successful", (measurement(30, 0.12, "Successful"),),
                         0, 0, 0, 0)
    if actions is None:
        actions = (ActionTaken("rollback", True, f"rolled back in {SHA[:12]}", commit=SHA),)
    return VerifyResult("Failed", (failed, passed), 95.0,
                        message if message is not None else failed.reason, actions,
                        str(evidence), {"app": app, "environment": "production",
                                        "namespace": "ml", "model_version": "7"})


def github_incident(server: GitHubStandIn, token: str = WRITE_TOKEN, **kw) -> Incident:
    return Incident("github", kw.pop("repository", server.full_name), server.api_url, token,
                    **kw)


def gitlab_incident(server: GitLabApiServer, token: str = GL_TOKEN, **kw) -> Incident:
    return Incident("gitlab", kw.pop("repository", PROJECT), server.url + "/api/v4", token,
                    **kw)


# --------------------------------------------------------------------------- where


GITHUB_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_runnerToken",
              "GITHUB_REPOSITORY": "acme/churn-model",
              "GITHUB_API_URL": "https://ghe.example.com/api/v3"}
GITLAB_ENV = {"GITLAB_CI": "true", "GITLAB_TOKEN": "glpat-x", "CI_PROJECT_ID": "42",
              "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
              "CI_JOB_TOKEN": "glcbt-jobtoken"}


def test_a_github_runner_gives_token_repository_and_api():
    incident = incident_from(GITHUB_ENV)
    assert incident == Incident("github", "acme/churn-model", "https://ghe.example.com/api/v3",
                                "ghs_runnerToken")
    assert incident.labels == ("mlgate", "incident")
    assert incident_from(GITHUB_ENV, "other/repo", labels=("ops",)).repository == "other/repo"
    public = incident_from({k: v for k, v in GITHUB_ENV.items() if k != "GITHUB_API_URL"})
    assert public is not None and public.api_url == "https://api.github.com"


def test_gitlab_takes_a_project_token_and_the_v4_url_as_the_server():
    incident = incident_from(GITLAB_ENV)
    assert incident == Incident("gitlab", "42", "https://gitlab.example.com", "glpat-x")
    assert incident_from({**GITLAB_ENV, "MLGATE_GITLAB_TOKEN": "glpat-y"}).token == "glpat-y"
    local = {**GITLAB_ENV, "GITLAB_CI": "false", "CI_SERVER_URL": "http://localhost"}
    assert incident_from(local).provider == "gitlab"  # gitlab-ci-local


@pytest.mark.parametrize("environ", [
    {k: v for k, v in GITHUB_ENV.items() if k != "GITHUB_TOKEN"},
    {k: v for k, v in GITHUB_ENV.items() if k != "GITHUB_REPOSITORY"},
    {**GITHUB_ENV, "GITHUB_REPOSITORY": "https://gitea.local/acme/model.git"},  # act, elsewhere
    {k: v for k, v in GITLAB_ENV.items() if k != "GITLAB_TOKEN"},  # a job token cannot
    {"GITHUB_TOKEN": "ghs_x", "GITHUB_REPOSITORY": "acme/m"},  # not on a runner: which forge?
])
def test_no_token_repository_or_forge_means_no_incident(environ):
    assert incident_from(environ) is None


def test_a_forge_can_be_named_outside_ci():
    incident = incident_from({"GITHUB_TOKEN": "ghs_x"}, "acme/m", provider="github")
    assert incident is not None and incident.api_url == "https://api.github.com"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"repository": "acme/../../etc"}, "incident repository .*expected OWNER/NAME"),
    ({"repository": "acme"}, "expected OWNER/NAME"),
    ({"repository": "../.."}, "expected OWNER/NAME"),  # would walk up /repos/ in the URL
    ({"api_url": "ftp://ghe.example.com"}, "incident API URL: not an http"),
    ({"api_url": "https://user:s3cretPass@ghe.example.com"}, "must not hold credentials"),
    ({"provider": "bitbucket"}, "expected github or gitlab"),
])
def test_bad_settings_are_bad_input_naming_them(kwargs, match):
    with pytest.raises(BadInput, match=match) as caught:
        incident_from(GITHUB_ENV, **kwargs)
    assert "s3cretPass" not in str(caught.value)


# --------------------------------------------------------------------------- what it says


def test_the_body_has_reason_release_actions_checks_and_measurements(tmp_path):
    res = result(tmp_path)
    body = incident_body(res, run_url="https://github.com/acme/churn-model/actions/runs/9")
    digest = hashlib.sha256(Path(res.evidence).read_bytes()).hexdigest()
    reason = "error\\-rate 0\\.05 \\> 0\\.01 \\(2 of 3 measurements\\)"
    assert f"**Reason:** {reason}\n" in body
    assert f"(sha256 `{digest}`)" in body and evidence_digest(res.evidence) == digest
    assert "| Model version | 7 |" in body and "| Environment | production |" in body
    assert f"(commit `{SHA}`)" in body and "**rollback** done" in body
    assert "[https://github.com/acme/churn-model/actions/runs/9]" \
           "(https://github.com/acme/churn-model/actions/runs/9)" not in body  # escaped text...
    assert "(https://github.com/acme/churn-model/actions/runs/9)" in body  # ...linking the URL
    rows = [line for line in body.splitlines() if line.startswith("| error\\-rate |")]
    assert rows == [f"| error\\-rate | Failed | at most 0\\.01 | 0\\.05 | 2 | 0 | 0 | {reason} |"]
    assert "#### error\\-rate: 3 measurements" in body
    assert "p95\\-latency: " not in body  # a check that passed lists no measurements
    assert body.count("| Failed |  |") == 2  # the two failed measurements, no message


def test_hostile_text_cannot_add_links_html_or_break_tables(tmp_path):
    res = result(tmp_path, app="churn](https://evil.example)<img src=x onerror=alert(1)>",
                 message="bad | value\n# Heading\n[click](https://evil.example)",
                 measure_message="x | y <script>", query="up`[1m]` | evil")
    body = incident_body(res, run_url="javascript:alert(1)")
    assert "<img" not in body and "<script" not in body
    assert "](https://evil.example)" not in body
    assert "\n# Heading" not in body and "(javascript:" not in body
    for line in body.splitlines():
        if line.startswith("| ") and not line.startswith("| Check") and "|---" not in line:
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (2, 5, 8), line  # every row keeps its column count
    query_line = next(line for line in body.splitlines() if line.startswith("Query:"))
    assert query_line.count("`") == 2


def test_the_title_is_one_clipped_line(tmp_path):
    title = incident_title(result(tmp_path, message="line one\nline\x1b[31mtwo " + "x" * 500))
    assert "\n" not in title and "\x1b" not in title and len(title) == TITLE_MAX
    assert title.startswith("mlgate verify failed: churn production (model 7): line one")


def test_an_unreadable_evidence_file_just_has_no_digest(tmp_path):
    res = result(tmp_path)
    Path(res.evidence).unlink()
    assert evidence_digest(res.evidence) is None and "sha256" not in incident_body(res)


# --------------------------------------------------------------------------- GitHub


def test_github_issue_is_opened_with_labels_created(github, tmp_path):
    res = result(tmp_path)
    action = open_incident(github_incident(github), incident_title(res), incident_body(res))
    assert action.ok and action.kind == "incident"
    (issue,) = github.issues.values()
    assert action.url == f"{github.html_url}/acme/churn-model/issues/{issue['number']}"
    assert action.detail == f"opened #{issue['number']}: {action.url}"
    assert issue["title"] == incident_title(res)
    assert issue["body"].startswith(incident_body(res))
    assert re.search(r"<!-- mlgate:incident [0-9a-f]{16} -->$", issue["body"])
    assert issue["labels"] == ["mlgate", "incident"] and "incident" in github.repo_labels
    assert [(r.method, r.status) for r in github.calls()] == [("POST", 201)]


def test_a_pull_only_user_refused_new_labels_gets_the_issue_without_them(github):
    action = open_incident(github_incident(github, PULL_TOKEN), "t", "b")
    assert action.ok and "without labels: GitHub refused them (HTTP 403)" in action.detail
    assert [r.status for r in github.calls("POST")] == [403, 201]
    (issue,) = github.issues.values()
    assert issue["labels"] == [] and "mlgate" not in github.repo_labels


def test_a_pull_only_users_existing_labels_are_dropped_silently(github):
    action = open_incident(github_incident(github, PULL_TOKEN, labels=("bug",)), "t", "b")
    assert action.ok and "labels" not in action.detail
    assert [r.status for r in github.calls("POST")] == [201]
    assert next(iter(github.issues.values()))["labels"] == []


@pytest.mark.parametrize(("setup", "token", "repository", "match"), [
    (None, READ_TOKEN, None, r"token lacks permission to open an incident issue on "
                             r"acme/churn-model \(HTTP 403: Resource not accessible"),
    ("no-issues", WRITE_TOKEN, None, r"HTTP 410: Issues are disabled for this repo"),
    (None, WRITE_TOKEN, "acme/missing", r"repository acme/missing not found or token cannot "
                                        r"see it \(HTTP 404"),
    (None, STRANGER_TOKEN, None, r"repository acme/churn-model not found or token cannot see"),
    (None, "ghp_revokedToken0000000000000000000000000", None, r"GitHub rejected the token "
                                                              r"\(HTTP 401: Bad credentials\)"),
])
def test_github_refusals_are_one_line_never_raised(github, setup, token, repository, match):
    if setup == "no-issues":
        github.has_issues = False
    incident = github_incident(github, token, labels=(),
                               **({"repository": repository} if repository else {}))
    action = open_incident(incident, "t", "b", sleep=Sleeps())
    assert not action.ok and action.url is None
    assert re.search(match, action.detail), action.detail
    assert action.detail.startswith("not opened: ") and "\n" not in action.detail
    assert token not in action.detail and github.issues == {}


def test_a_validation_error_is_reported_in_githubs_words(github):
    github.fail_next(1, 422, method="POST", path="/issues", message="Validation Failed")
    action = open_incident(github_incident(github), "t", "b")
    assert not action.ok and "HTTP 422: Validation Failed" in action.detail


def test_title_and_body_are_clipped_to_what_github_accepts(github):
    action = open_incident(github_incident(github), "x" * 1000, "y" * (BODY_MAX * 2))
    assert action.ok
    (issue,) = github.issues.values()
    assert len(issue["title"]) == TITLE_MAX and len(issue["body"]) <= BODY_MAX
    assert "<!-- mlgate:incident " in issue["body"]


def test_secondary_rate_limit_is_waited_out(github):
    github.rate_limit("secondary", seconds=1, method="POST", path="/issues")
    started = time.monotonic()
    action = open_incident(github_incident(github), "t", "b")
    assert action.ok and time.monotonic() - started >= 1.0
    assert [r.status for r in github.calls("POST")] == [403, 201]


def test_primary_rate_limit_429_waits_for_the_reset(github):
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(max(0.0, seconds - 1.0))

    github.rate_limit("primary", seconds=0.5, status=429, method="POST", path="/issues")
    action = open_incident(github_incident(github), "t", "b", sleep=sleep)
    assert action.ok and len(waited) == 1
    assert [r.status for r in github.calls("POST")] == [429, 201]


def test_a_rate_limit_beyond_the_budget_is_reported_without_waiting(github):
    sleeps = Sleeps()
    github.rate_limit("secondary", seconds=600, method="POST", path="/issues")
    action = open_incident(github_incident(github), "t", "b", max_wait=60, sleep=sleeps)
    assert not action.ok and "rate limit" in action.detail and "60s limit" in action.detail
    assert sleeps == [] and github.issues == {}


def test_a_lost_answer_is_found_not_opened_twice(github):
    """The issue lands, the answer is a 502: the retry finds it by its marker."""
    github.lose_answer_next(1, 502, method="POST", path="/issues")
    action = open_incident(github_incident(github), "t", "b", sleep=Sleeps(), rng=lambda: 0.5)
    assert action.ok and len(github.issues) == 1
    (issue,) = github.issues.values()
    assert action.url.endswith(f"/issues/{issue['number']}")
    assert [r.method for r in github.calls()] == ["POST", "GET"]


def test_a_server_error_before_the_write_is_retried_once_more(github):
    sleeps = Sleeps()
    github.fail_next(2, 502, method="POST", path="/issues")
    action = open_incident(github_incident(github), "t", "b", sleep=sleeps, rng=lambda: 0.5)
    assert action.ok and len(github.issues) == 1 and sleeps == [0.75, 1.5]


def test_an_unreachable_api_is_reported(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    incident = Incident("github", "acme/m", f"http://127.0.0.1:{port}/api/v3", WRITE_TOKEN)
    action = open_incident(incident, "t", "b", retries=1, sleep=Sleeps())
    assert not action.ok and "could not reach GitHub" in action.detail


@pytest.mark.parametrize("repository", ["../..", "acme/..", "acme"])
def test_a_repository_that_would_leave_repos_is_never_asked_for(github, repository):
    action = open_incident(github_incident(github, repository=repository), "t", "b")
    assert not action.ok and "no github repository" in action.detail and github.calls() == []


def test_the_token_never_reaches_the_issue(github):
    action = open_incident(github_incident(github), f"leak {WRITE_TOKEN}",
                           f"body with {WRITE_TOKEN} in it")
    (issue,) = github.issues.values()
    assert action.ok and WRITE_TOKEN not in issue["title"] + issue["body"]


def test_without_a_token_nothing_is_asked(github):
    action = open_incident(Incident("github", github.full_name, github.api_url, None), "t", "b")
    assert not action.ok and "no token" in action.detail and github.calls() == []


# --------------------------------------------------------------------------- GitLab


def test_gitlab_incident_is_an_issue_of_type_incident(gitlab, tmp_path):
    res = result(tmp_path)
    action = open_incident(gitlab_incident(gitlab), incident_title(res), incident_body(res))
    project = gitlab.projects[PROJECT]
    (issue,) = project.issues.values()
    assert action.ok and action.url == f"{gitlab.url}/{PROJECT}/-/issues/{issue['iid']}"
    assert issue["issue_type"] == "incident" and issue["title"] == incident_title(res)
    assert issue["labels"] == ["mlgate", "incident"] and project.labels == issue["labels"]
    assert issue["description"].startswith(incident_body(res))


def test_gitlab_by_numeric_project_id(gitlab):
    pid = str(gitlab.projects[PROJECT].id)
    assert open_incident(gitlab_incident(gitlab, repository=pid), "t", "b").ok


def test_a_label_gitlab_would_split_is_left_out_and_said(gitlab):
    incident = gitlab_incident(gitlab, labels=("mlgate", "sev,1", "x" * 80))
    action = open_incident(incident, "t", "b")
    assert action.ok and "labels left out: sev,1" in action.detail
    assert next(iter(gitlab.projects[PROJECT].issues.values()))["labels"] == ["mlgate"]


@pytest.mark.parametrize(("case", "match"), [
    ("disabled", r"GitLab refused to open an issue in ml/churn-model \(403\): the project's "
                 r"issues may be disabled"),
    ("read", r"\(403\)"),
    ("missing", r"GitLab project 'ml/other' not found or token cannot see it"),
    ("unknown", r"GitLab refused the token \(401\)"),
])
def test_gitlab_refusals_are_one_line_never_raised(gitlab, case, match):
    token = {"read": GL_READ, "unknown": "glpat-unknownToken000000000000"}.get(case, GL_TOKEN)
    if case == "disabled":
        gitlab.projects[PROJECT].issues_enabled = False
    incident = gitlab_incident(gitlab, token, **({"repository": "ml/other"}
                                                 if case == "missing" else {}))
    action = open_incident(incident, "t", "b")
    assert not action.ok and re.search(match, action.detail), action.detail
    assert token not in action.detail and gitlab.projects[PROJECT].issues == {}


def test_gitlab_429_is_waited_out(gitlab, waits):
    gitlab.rate_limit_next(1, retry_after=3, method="POST", path_contains="/issues")
    action = open_incident(gitlab_incident(gitlab), "t", "b")
    assert action.ok and waits == [3]
    assert [r.status for r in gitlab.requests("POST")] == [429, 201]


def test_gitlab_lost_answer_is_found_not_opened_twice(gitlab):
    gitlab.lose_answer_next(1, 502, method="POST", path_contains="/issues")
    sleeps = Sleeps()
    action = open_incident(gitlab_incident(gitlab), "t", "b", sleep=sleeps)
    project = gitlab.projects[PROJECT]
    assert action.ok and len(project.issues) == 1 and sleeps == [0.5]
    assert action.url.endswith(f"/-/issues/{next(iter(project.issues))}")
    assert [r.method for r in gitlab.requests()] == ["POST", "GET"]


def test_gitlab_server_errors_are_retried_without_duplicates(gitlab):
    gitlab.fail_next(2, 503, method="POST", path_contains="/issues")
    action = open_incident(gitlab_incident(gitlab), "t", "b", sleep=Sleeps())
    assert action.ok and len(gitlab.projects[PROJECT].issues) == 1
    assert [r.status for r in gitlab.requests("POST")] == [503, 503, 201]


def test_gitlab_server_errors_that_last_are_reported(gitlab):
    gitlab.fail_next(10, 503, method="POST", path_contains="/issues")
    action = open_incident(gitlab_incident(gitlab), "t", "b", retries=2, sleep=Sleeps())
    assert not action.ok and "kept failing to open an incident issue" in action.detail
    assert gitlab.projects[PROJECT].issues == {}
