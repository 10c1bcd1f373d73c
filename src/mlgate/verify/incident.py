"""The incident issue `mlgate verify` opens after it rolled a model back: where it goes (from the
CI environment), what it says (the reason, every check's measurements, the evidence and its
digest, the rollback commit, the run), and opening it on GitHub or GitLab.

An incident is a notice about something already done: it never raises. Whatever goes wrong
(no rights, issues disabled, rate limits outlasting the wait budget, an unreachable API) comes
back as ActionTaken(ok=False) with one line, so a failed incident cannot hide the rollback. A
missing token is not an error at all: `incident_from` gives None and the caller skips it.

The forge plumbing is promote's (GitHubClient, GitLabClient): the same retries inside one wait
budget, Retry-After and rate-limit headers, errors in GitHub's and GitLab's words and never the
token. Opening an issue is not idempotent, so a 5xx (whose issue may exist -- a lost answer) is
followed by a look for the issue, found by a hidden marker in its body, before trying again.

`import github` / `import gitlab` happen inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlgate.errors import BadInput, MlgateError, ServiceError
from mlgate.escape import escape_markdown, one_line, printable
from mlgate.promote.providers.github_client import PUBLIC_API, GitHubClient, _Budget
from mlgate.promote.providers.gitlab_client import _TRANSIENT, GitLabClient
from mlgate.promote.types import Conflict
from mlgate.redact import mask_secrets, redact_text, secret_fragments
from mlgate.verify.analysis import show
from mlgate.verify.config import Incident
from mlgate.verify.result import ActionTaken, CheckResult, VerifyResult

if TYPE_CHECKING:
    from github.Issue import Issue

GITHUB_TOKEN_VARIABLES = ("GITHUB_TOKEN",)
# a CI/CD job token cannot open issues or start pipelines through these endpoints
GITLAB_TOKEN_VARIABLES = ("MLGATE_GITLAB_TOKEN", "GITLAB_TOKEN")
GITLAB_PUBLIC = "https://gitlab.com"
TITLE_MAX = 255          # GitLab's limit (GitHub's is 256)
BODY_MAX = 65_536        # GitHub's limit (GitLab's is 1 MiB)
LABEL_MAX = 50           # GitHub's limit for a label name
MEASUREMENTS_SHOWN = 20  # the last N of each check that did not pass
FOUND_WINDOW = 600.0     # how far back a lost issue is looked for (seconds)

_GITHUB_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", re.ASCII)
_GITLAB_PROJECT = re.compile(
    r"[0-9]+|[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+", re.ASCII)
_SHA = re.compile(r"[0-9a-f]{7,64}", re.ASCII)
_SAFE_URL = re.compile(r"https?://[^\s<>()\[\]\"'`\\]+", re.ASCII)


# --------------------------------------------------------------------------- where


def forge_of(environ: Mapping[str, str], provider: str | None = None) -> str | None:
    """"github" or "gitlab": the one given, else the CI mlgate runs in (act and gitlab-ci-local
    included), else None."""
    if provider is not None:
        if provider not in ("github", "gitlab"):
            raise BadInput(f"provider {provider[:40]!r}: expected github or gitlab")
        return provider
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true" or (
            environ.get("GITLAB_CI") == "false" and environ.get("CI_SERVER_URL")):
        return "gitlab"
    return None


def token_of(environ: Mapping[str, str], forge: str) -> str | None:
    names = GITHUB_TOKEN_VARIABLES if forge == "github" else GITLAB_TOKEN_VARIABLES
    return next((environ[n].strip() for n in names if environ.get(n, "").strip()), None)


def repository_of(environ: Mapping[str, str], forge: str, repository: str | None,
                  what: str) -> str | None:
    """owner/name on GitHub, a project path or id on GitLab: the one given (checked: BadInput
    naming `what`), else the CI's own (GITHUB_REPOSITORY, CI_PROJECT_ID) when it is one."""
    if repository is not None:
        if not _repository_ok(forge, repository.strip()):
            expected = "OWNER/NAME" if forge == "github" else "a project id or GROUP/PROJECT"
            raise BadInput(f"{what} {_line(repository)[:100]!r}: expected {expected}")
        return repository.strip()
    found = environ.get("GITHUB_REPOSITORY" if forge == "github" else "CI_PROJECT_ID", "")
    return found if _repository_ok(forge, found) else None


def _repository_ok(forge: str, name: str) -> bool:
    """A name that stays one repository in an API path: GitHub refuses "." and ".." as names
    (they would walk up the URL), GitLab path segments cannot start with a dot."""
    if forge != "github":
        return bool(_GITLAB_PROJECT.fullmatch(name))
    return bool(_GITHUB_REPO.fullmatch(name)) and not any(
        part in (".", "..") for part in name.split("/"))


def api_url_of(environ: Mapping[str, str], forge: str, api_url: str | None,
               what: str) -> str:
    """The REST API's base: GitHub's (GITHUB_API_URL on a runner, api.github.com) or GitLab's
    server (CI_API_V4_URL without /api/v4, which python-gitlab adds, else CI_SERVER_URL)."""
    if forge == "github":
        url = api_url or environ.get("GITHUB_API_URL") or PUBLIC_API
    else:
        url = api_url or environ.get("CI_API_V4_URL") or environ.get("CI_SERVER_URL") \
            or GITLAB_PUBLIC
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{what}: not an http(s) URL: {printable(one_line(url))[:100]}")
    if parts.username or parts.password:
        raise BadInput(f"{what}: the URL must not hold credentials; the token comes from the "
                       "environment")
    return url.removesuffix("/api/v4") if forge == "gitlab" else url


def incident_from(environ: Mapping[str, str], repository: str | None = None,
                  api_url: str | None = None, *, provider: str | None = None,
                  labels: tuple[str, ...] | None = None) -> Incident | None:
    """Where to open the incident, from the CI environment: GITHUB_TOKEN, GITHUB_REPOSITORY and
    GITHUB_API_URL on GitHub; MLGATE_GITLAB_TOKEN or GITLAB_TOKEN (a project access token:
    CI_JOB_TOKEN cannot open issues), CI_PROJECT_ID and CI_API_V4_URL on GitLab. None when
    there is no token, no forge or no repository to open it in: the incident is skipped."""
    forge = forge_of(environ, provider)
    if forge is None:
        return None
    token = token_of(environ, forge)
    where = repository_of(environ, forge, repository, "incident repository")
    if token is None or where is None:
        return None
    url = api_url_of(environ, forge, api_url, "incident API URL")
    if labels is None:
        return Incident(forge, where, url, token)
    return Incident(forge, where, url, token, tuple(labels))


# --------------------------------------------------------------------------- what


def evidence_digest(path: str | None) -> str | None:
    """The evidence file's sha256, or None when there is none or it cannot be read."""
    from mlgate.safe_load import read_bytes

    if not path:
        return None
    try:
        return hashlib.sha256(read_bytes(path, "--evidence")).hexdigest()
    except MlgateError:
        return None


def incident_title(result: VerifyResult) -> str:
    """One line: what failed where, and why."""
    labels = result.labels
    where = " ".join(x for x in (labels.get("app"), labels.get("environment")) if x)
    version = labels.get("model_version")
    head = f"mlgate verify {result.phase.lower()}: {where or 'model'}"
    head += f" (model {version})" if version else ""
    return _clip(_line(f"{head}: {result.message}" if result.message else head), TITLE_MAX)


def incident_body(result: VerifyResult, *, run_url: str | None = None,
                  evidence_sha256: str | None = None) -> str:
    """The incident in Markdown: the reason, the release, what was done (the rollback commit,
    a retraining), every check with its limits and the measurements of those that did not
    pass. Everything that came from outside is escaped; links only when they are plain
    http(s) URLs."""
    labels = result.labels
    digest = evidence_sha256 or evidence_digest(result.evidence)
    rows = [("App", _md(labels.get("app"))), ("Environment", _md(labels.get("environment"))),
            ("Namespace", _md(labels.get("namespace"))),
            ("Model version", _md(labels.get("model_version")))]
    if result.evidence:
        rows.append(("Evidence", _md(result.evidence)
                     + (f" (sha256 `{digest}`)" if digest and _SHA.fullmatch(digest) else "")))
    if run_url:
        rows.append(("Run", _link(run_url)))
    rows.append(("Measured for", f"{result.seconds:.0f} s"))
    lines = [f"## mlgate verify: {_md(result.phase)}", "",
             f"**Reason:** {_md(result.message) or 'none given'}", "",
             "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows if v]
    lines += ["", "### What was done", ""]
    lines += [_action_line(a) for a in result.actions] or ["- nothing yet"]
    lines += ["", "### Checks", "",
              "| Check | Phase | Limit | Last value | Failed | Inconclusive | Errors | Reason |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [_check_row(c) for c in result.checks]
    for check in result.checks:
        if check.phase != "Successful" and check.measurements:
            lines += ["", *_measurements(check)]
    lines += ["", "_Opened by mlgate verify._"]
    return "\n".join(lines) + "\n"


def _line(text: object) -> str:
    return printable(one_line(str(text)))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _md(text: object) -> str:
    return "" if text is None else escape_markdown(printable(str(text)))


def _link(url: str) -> str:
    """A Markdown link for a plain http(s) URL; anything else is shown as escaped text."""
    url = url.strip()
    return f"[{_md(url)}]({url})" if _SAFE_URL.fullmatch(url) else _md(url)


def _action_line(action: ActionTaken) -> str:
    state = "done" if action.ok else "failed"
    text = f"- **{action.kind}** {state}: {_md(action.detail)}"
    if action.commit and _SHA.fullmatch(action.commit):
        text += f" (commit `{action.commit}`)"
    if action.url and _SAFE_URL.fullmatch(action.url):
        text += f" ({_link(action.url)})"
    return text


def _limit(check: CheckResult) -> str:
    low = None if check.min is None else show(check.min, check.unit)
    high = None if check.max is None else show(check.max, check.unit)
    if low is not None and high is not None:
        return f"{low} to {high}"
    if high is not None:
        return f"at most {high}"
    return f"at least {low}" if low is not None else "none"


def _value(value: float | None, unit: str) -> str:
    return "no value" if value is None else show(value, unit)


def _check_row(check: CheckResult) -> str:
    last = check.measurements[-1].value if check.measurements else None
    cells = [_md(check.name), _md(check.phase), _md(_limit(check)), _md(_value(last, check.unit)),
             str(check.failed), str(check.inconclusive), str(check.errors), _md(check.reason)]
    return "| " + " | ".join(cells) + " |"


def _measurements(check: CheckResult) -> list[str]:
    shown = check.measurements[-MEASUREMENTS_SHOWN:]
    lines = [f"#### {_md(check.name)}: {len(check.measurements)} measurements"
             + (f" (last {len(shown)})" if len(shown) < len(check.measurements) else ""), "",
             f"Query: `{_code(check.query)}`", "",
             "| At | Time | Value | Phase | Message |", "|---|---|---|---|---|"]
    lines += [f"| {m.at:.0f} s | {_md(m.time)} | {_md(_value(m.value, check.unit))} | "
              f"{_md(m.phase)} | {_md(m.message)} |" for m in shown]
    return lines


def _code(text: str) -> str:
    """A PromQL query inside inline code: backticks cannot close it, lines cannot break it."""
    return _clip(_line(text).replace("`", "'").replace("|", "\\|"), 500)


# --------------------------------------------------------------------------- opening it


def open_incident(incident: Incident, title: str, body_markdown: str, *,
                  max_wait: float = 60.0, retries: int = 4,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.time,
                  rng: Callable[[], float] = random.random) -> ActionTaken:
    """Open the incident issue (a GitLab issue of type incident); never raises."""
    if not incident.token:
        return ActionTaken("incident", False, "not opened: no token to open an issue with")
    token = incident.token
    title = _clip(_line(mask_secrets(title, (token,))) or "mlgate verify incident", TITLE_MAX)
    marker = f"<!-- mlgate:incident {secrets.token_hex(8)} -->"
    body = _clip(mask_secrets(body_markdown, (token,)), BODY_MAX - len(marker) - 2)
    body += "\n\n" + marker
    labels, dropped = _labels(incident)
    try:
        if incident.provider not in ("github", "gitlab") or not _repository_ok(
                incident.provider, incident.repository):
            raise BadInput(f"no {incident.provider} repository {incident.repository!r}")
        if incident.provider == "github":
            url, number, note = _GitHubIssues(
                incident.repository, incident.token, incident.api_url or PUBLIC_API,
                max_wait=max_wait, retries=retries, sleep=sleep, clock=clock, rng=rng,
            ).open(title, body, labels, marker)
        else:
            url, number, note = _GitLabIssues(
                (incident.api_url or GITLAB_PUBLIC).rstrip("/").removesuffix("/api/v4"),
                incident.repository, incident.token, max_wait=max_wait, retries=retries,
            ).open(title, body, labels, marker, sleep)
    except ImportError as exc:
        extra = "github" if incident.provider == "github" else "gitlab"
        return ActionTaken("incident", False, f"not opened: {exc.name or 'a library'} is not "
                           f"installed (pip install 'mlgate[{extra}]')")
    except Exception as exc:  # noqa: BLE001 - an incident must never hide the rollback
        text = str(exc) if isinstance(exc, MlgateError) else f"{type(exc).__name__}: {exc}"
        return ActionTaken("incident", False, _safe(f"not opened: {text}", incident.token))
    notes = [n for n in (note, f"labels left out: {', '.join(dropped)}" if dropped else "") if n]
    detail = f"opened #{number}: {url}" + (f" ({'; '.join(notes)})" if notes else "")
    return ActionTaken("incident", True, _safe(detail, incident.token), url=url)


def _safe(text: str, token: str) -> str:
    """One line for a report: the token and any token-shaped or URL-embedded secret hidden."""
    return _clip(_line(redact_text(text, secret_fragments((token,)))), 500)


def _labels(incident: Incident) -> tuple[list[str], list[str]]:
    """The labels both forges accept: a GitHub-sized name, no comma (GitLab splits on it)."""
    kept: list[str] = []
    dropped: list[str] = []
    for raw in incident.labels:
        name = _line(raw).strip()
        if not name:
            continue
        if len(name) > LABEL_MAX or "," in name:
            dropped.append(_clip(name, 60))
        elif name not in kept:
            kept.append(name)
    return kept, dropped


def _iso(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(microsecond=0)


class _GitHubIssues(GitHubClient):
    """POST /repos/{o}/{r}/issues over promote's GitHubClient (retries, budget, redaction)."""

    def open(self, title: str, body: str, labels: list[str],
             marker: str) -> tuple[str, int, str]:
        from github import GithubException

        budget = self._budget()
        since = self._clock() - FOUND_WINDOW
        action = "open an incident issue"

        def create(with_labels: bool) -> Issue:
            extra: dict[str, Any] = {"labels": labels} if with_labels and labels else {}
            return self.repo.create_issue(title=title, body=body, **extra)

        def landed() -> Issue | None:
            return self._find(marker, since, budget)

        try:
            issue = self._call("create_issue", action, lambda: create(True), budget,
                               passthrough=frozenset({403} if labels else ()), landed=landed)
            return issue.html_url, issue.number, ""
        except GithubException as exc:  # 403 with labels: a user who may not set (or create) them
            first = exc
        issue = self._call("create_issue", action, lambda: create(False), budget, landed=landed)
        note = f"without labels: GitHub refused them (HTTP {first.status})"
        return issue.html_url, issue.number, note

    def _find(self, marker: str, since: float, budget: _Budget) -> Issue | None:
        """The issue a lost answer created: open, recent, with our marker in its body."""
        try:
            listing = self.repo.get_issues(state="open", since=_iso(since), sort="created",
                                           direction="desc")
            page = self._call("list_issues", "look for the incident issue", lambda: listing
                              .get_page(0), budget)
        except ServiceError:
            return None
        # the marker is random: no pull request's body has it (and reading `pull_request` on a
        # listed issue would cost a request per issue)
        return next((i for i in page if marker in (i.body or "")), None)


class _GitLabIssues(GitLabClient):
    """POST /projects/:id/issues (issue_type incident) over promote's GitLabClient."""

    def open(self, title: str, body: str, labels: list[str], marker: str,
             sleep: Callable[[float], None]) -> tuple[str, int, str]:
        project = self._project()
        data: dict[str, Any] = {"title": title, "description": body, "issue_type": "incident"}
        if labels:
            data["labels"] = labels
        what = "open an incident issue"
        for attempt in range(self.retries + 1):
            if attempt and (found := self._find(marker)) is not None:
                return found
            try:
                issue = self._api("issue", what, lambda: project.issues.create(
                    data, retry_transient_errors=False, **self._call_opts()),
                    conflict=lambda code, _msg: code in _TRANSIENT, bad_input=self._refusal)
                return str(issue.web_url), int(issue.iid), ""
            except Conflict:  # a 5xx: the issue may exist (lost answer); look before retrying
                sleep(min(8.0, 0.5 * 2 ** attempt))
        raise ServiceError(self._scrub(f"GitLab kept failing to {what} in {self.project_path} "
                                       f"after {self.retries} retries"))

    def _refusal(self, code: int, message: str) -> str | None:
        if code == 403:
            return (f"GitLab refused to open an issue in {self.project_path} (403): the "
                    "project's issues may be disabled, or the token lacks the api scope or "
                    "the Reporter role")
        if code == 400:
            return f"GitLab refused the incident issue in {self.project_path} (400): {message}"
        return None

    def _find(self, marker: str) -> tuple[str, int, str] | None:
        try:
            found = self._api("issue-list", "look for the incident issue", lambda: self
                              ._project().issues.list(search=marker.split()[2],
                                                      order_by="created_at", sort="desc",
                                                      per_page=20, get_all=False,
                                                      **self._call_opts()))
        except MlgateError:
            return None
        issue = next((i for i in found if marker in (getattr(i, "description", "") or "")),
                     None)
        return None if issue is None else (str(issue.web_url), int(issue.iid), "")
