"""Starting the model repository's training when `mlgate verify` saw the model drift: a GitHub
workflow run by workflow_dispatch, or a GitLab pipeline with variables.

Like the incident, a retraining is acted on after the verdict and never raises: every failure
is ActionTaken(ok=False) with one line saying what to fix (a workflow without a
workflow_dispatch trigger, inputs the workflow does not declare, a ref that does not exist, a
GitLab project that does not let the token set pipeline variables...).

GitHub answers a dispatch with 204 and nothing else: the run it started is found by listing the
workflow's runs (event workflow_dispatch, the ref, created since just before the dispatch) and
taking the newest one that was not there before, polling a few times because GitHub creates the
run asynchronously. A run that is not listed in time is no failure: the dispatch was accepted.
Both a dispatch and a pipeline are writes that start real work, so after a 5xx (whose write may
have landed -- a lost answer) the runs or pipelines are looked at again before trying again.

The forge plumbing (retries within one wait budget, rate limits, errors without the token) is
promote's GitHubClient and GitLabClient.
"""

from __future__ import annotations

import inspect
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlgate.errors import BadInput, MlgateError, ServiceError
from mlgate.promote.providers.github_client import PUBLIC_API, GitHubClient, _Budget, _detail
from mlgate.promote.providers.gitlab_client import _TRANSIENT, GitLabClient
from mlgate.promote.types import Conflict
from mlgate.verify.config import Retrain
from mlgate.verify.incident import (
    GITLAB_PUBLIC,
    GITLAB_TOKEN_VARIABLES,
    _clip,
    _line,
    _safe,
    api_url_of,
    forge_of,
    repository_of,
    token_of,
)
from mlgate.verify.result import ActionTaken, VerifyResult

if TYPE_CHECKING:
    from github.Workflow import Workflow
    from github.WorkflowRun import WorkflowRun

# GitHub Enterprise Server (and github.com until late 2025) take at most 10 inputs
MAX_INPUTS = 10
INPUT_VALUE_MAX = 1000
# the run of a dispatch is listed after a few seconds: look at once, then after these waits
FIND_WAITS = (1.0, 2.0, 3.0, 4.0, 5.0)
CREATED_MARGIN = 120.0   # runs created this long before the dispatch count (clock skew)
RECENT_PIPELINES = 20

_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}", re.ASCII)
_VARIABLE_KEY = re.compile(r"[A-Za-z0-9_]{1,255}", re.ASCII)
_WORKFLOW = re.compile(r"[0-9]+|[A-Za-z0-9_.-]+\.ya?ml", re.ASCII)


# --------------------------------------------------------------------------- configuration


def retrain_from(environ: Mapping[str, str], workflow: str | None, ref: str,
                 repository: str | None = None, *, provider: str | None = None,
                 api_url: str | None = None) -> Retrain:
    """The training to start, checked before anything runs (BadInput names what is missing):
    GITHUB_TOKEN (actions: write), GITHUB_REPOSITORY, GITHUB_API_URL and a workflow file or
    id on GitHub; MLGATE_GITLAB_TOKEN or GITLAB_TOKEN (a project access token with the api
    scope and the Developer role: CI_JOB_TOKEN cannot start pipelines through the API),
    CI_PROJECT_ID and CI_API_V4_URL on GitLab."""
    from mlgate.promote.git import check_branch

    forge = forge_of(environ, provider)
    if forge is None:
        raise BadInput("retraining: not on GitHub Actions or GitLab CI; give the provider "
                       "(github or gitlab)")
    where = repository_of(environ, forge, repository, "retraining repository")
    if where is None:
        name = "GITHUB_REPOSITORY" if forge == "github" else "CI_PROJECT_ID"
        raise BadInput(f"retraining: no repository to run the training in: give one or set "
                       f"{name}")
    token = token_of(environ, forge)
    if token is None:
        raise BadInput(_missing_token(environ, forge))
    name = None
    if forge == "github":
        name = (workflow or "").strip().removeprefix(".github/workflows/")
        if not _WORKFLOW.fullmatch(name):
            raise BadInput(f"retraining workflow {(workflow or '')[:100]!r}: expected the "
                           "workflow's file name (train.yml) or its numeric id")
    check_branch(ref, "retraining ref")
    return Retrain(forge, where, name, ref, api_url_of(environ, forge, api_url,
                                                       "retraining API URL"), token)


def _missing_token(environ: Mapping[str, str], forge: str) -> str:
    if forge == "github":
        return ("retraining on GitHub needs a token in GITHUB_TOKEN (permissions: actions: "
                "write)")
    names = " or ".join(GITLAB_TOKEN_VARIABLES)
    if environ.get("CI_JOB_TOKEN"):
        return (f"retraining on GitLab needs a project access token (api scope, Developer "
                f"role) in {names}: CI_JOB_TOKEN cannot start pipelines through the API")
    return f"retraining on GitLab needs a project access token (api scope) in {names}"


def retrain_inputs(result: VerifyResult, evidence_url: str | None = None) -> dict[str, str]:
    """What the training is told, as workflow_dispatch inputs / pipeline variables (all
    strings, at most 8): the release, the first check that did not pass with its value and
    limit (plain numbers in the check's base unit: seconds, ratios), the reason and the
    evidence. The workflow declares the ones it uses (GitHub refuses
    inputs a workflow does not declare)."""
    labels = result.labels
    check = next((c for c in result.checks if c.phase == "Failed"),
                 next((c for c in result.checks if c.phase != "Successful"), None))
    inputs = {"mlgate_app": labels.get("app", ""),
              "mlgate_environment": labels.get("environment", ""),
              "mlgate_model_version": labels.get("model_version", ""),
              "mlgate_reason": result.message}
    if check is not None:
        failed = [m.value for m in check.measurements if m.phase == "Failed"
                  and m.value is not None]
        value = failed[-1] if failed else next(
            (m.value for m in reversed(check.measurements) if m.value is not None), None)
        low = "" if check.min is None else repr(float(check.min))
        high = "" if check.max is None else repr(float(check.max))
        inputs.update(mlgate_check=check.name,
                      mlgate_value="" if value is None else repr(float(value)),
                      mlgate_limit=f"{low}..{high}" if low and high else
                      (f"<={high}" if high else (f">={low}" if low else "")))
    if evidence_url or result.evidence:
        inputs["mlgate_evidence"] = evidence_url or result.evidence or ""
    return {k: _clip(_line(v), INPUT_VALUE_MAX) for k, v in inputs.items() if v}


# --------------------------------------------------------------------------- starting it


def start_retrain(retrain: Retrain, inputs: Mapping[str, Any], *,
                  find_waits: tuple[float, ...] = FIND_WAITS, max_wait: float = 60.0,
                  retries: int = 4, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.time,
                  rng: Callable[[], float] = random.random) -> ActionTaken:
    """Dispatch the workflow (GitHub) or create the pipeline (GitLab); never raises."""
    if not retrain.token:
        return ActionTaken("retrain", False, "not started: no token to start the training with")
    try:
        _check(retrain)
        values = _strings(inputs, retrain.provider)
        if retrain.provider == "github":
            client = _GitHubActions(retrain.repository, retrain.token,
                                    retrain.api_url or PUBLIC_API, max_wait=max_wait,
                                    retries=retries, sleep=sleep, clock=clock, rng=rng)
            url, detail = client.dispatch(retrain.workflow or "", retrain.ref, values,
                                          find_waits)
        else:
            gitlab = _GitLabPipelines(
                (retrain.api_url or GITLAB_PUBLIC).rstrip("/").removesuffix("/api/v4"),
                retrain.repository, retrain.token, max_wait=max_wait, retries=retries)
            url, detail = gitlab.start(retrain.ref, values, sleep)
    except ImportError as exc:
        return ActionTaken("retrain", False, f"not started: {exc.name or 'a library'} is not "
                           f"installed (pip install 'mlgate[{retrain.provider}]')")
    except Exception as exc:  # noqa: BLE001 - acting on a verdict must not crash the verdict
        text = str(exc) if isinstance(exc, MlgateError) else f"{type(exc).__name__}: {exc}"
        return ActionTaken("retrain", False, _safe(f"not started: {text}", retrain.token))
    return ActionTaken("retrain", True, _safe(detail, retrain.token), url=url)


def _check(retrain: Retrain) -> None:
    """A Retrain built elsewhere is held to what retrain_from checks: names that stay one
    repository and one workflow in an API path, a ref git accepts."""
    from mlgate.promote.git import check_branch

    if retrain.provider not in ("github", "gitlab"):
        raise BadInput(f"provider {retrain.provider!r}: expected github or gitlab")
    repository_of({}, retrain.provider, retrain.repository, "retraining repository")
    if retrain.provider == "github" and not _WORKFLOW.fullmatch(retrain.workflow or ""):
        raise BadInput(f"retraining workflow {_line(retrain.workflow or '')[:100]!r}: expected "
                       "the workflow's file name (train.yml) or its numeric id")
    check_branch(retrain.ref, "retraining ref")


def _strings(inputs: Mapping[str, Any], forge: str) -> dict[str, str]:
    """Inputs as the forge takes them: strings (True -> "true"), names it accepts, and at most
    MAX_INPUTS on GitHub; BadInput otherwise (reported, not raised, by start_retrain)."""
    if forge == "github" and len(inputs) > MAX_INPUTS:
        raise BadInput(f"GitHub's workflow_dispatch takes at most {MAX_INPUTS} inputs; "
                       f"{len(inputs)} were given ({', '.join(sorted(inputs))[:200]})")
    pattern, what = ((_INPUT_NAME, "a workflow_dispatch input name (letters, digits, '_' or "
                      "'-', starting with a letter or '_')") if forge == "github" else
                     (_VARIABLE_KEY, "a GitLab variable key (letters, digits and '_')"))
    values = {}
    for name, value in inputs.items():
        if not isinstance(name, str) or not pattern.fullmatch(name):
            raise BadInput(f"{_line(name)[:60]!r} is not {what}")
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        values[name] = _clip(text, INPUT_VALUE_MAX)
    return values


class _GitHubActions(GitHubClient):
    """workflow_dispatch and the run it started, over promote's GitHubClient."""

    def dispatch(self, name: str, ref: str, inputs: dict[str, str],
                 waits: tuple[float, ...]) -> tuple[str | None, str]:
        from github import GithubException

        budget = self._budget()
        workflow = self._workflow(name, budget)
        if workflow.state != "active":
            raise ServiceError(f"workflow {name} in {self.full_name} is {workflow.state}: "
                               "enable it to retrain")
        created = ">=" + _iso(self._clock() - CREATED_MARGIN)
        before = {r.id for r in self._runs(workflow, ref, created, budget)}
        action = f"dispatch workflow {name} (ref {ref})"
        try:
            done = self._call("dispatch", action, lambda: _create_dispatch(workflow, ref, inputs),
                              budget, passthrough=frozenset({422}),
                              landed=lambda: self._new_run(workflow, ref, created, before,
                                                           budget, waits[:2]))
        except GithubException as exc:
            raise ServiceError(self._scrub(self._refused(exc, name, ref, inputs))) from None
        run = done if not isinstance(done, bool) else self._new_run(
            workflow, ref, created, before, budget, waits)
        if run is None:
            return None, (f"dispatched {name} on {ref} in {self.full_name}; its run was not "
                          f"listed after {sum(waits):.0f}s (GitHub creates it asynchronously)")
        return run.html_url, f"started {name} on {ref}: {run.html_url}"

    def _workflow(self, name: str, budget: _Budget) -> Workflow:
        """The workflow, read once (a file name GitHub does not know is 404, as is the repo)."""
        from github import GithubException

        def load() -> Workflow:
            workflow = self.repo.get_workflow(int(name) if name.isdigit() else name)
            _ = workflow.state  # a lazy object is read here; an eager one already was
            return workflow

        try:
            return self._call("get_workflow", f"read workflow {name}", load, budget,
                              passthrough=frozenset({404}))
        except GithubException:
            if self._repo_missing(budget):
                raise self._error(f"repository {self.full_name} not found or token cannot see "
                                  f"it (HTTP 404 from {self.api_url} while trying to read "
                                  f"workflow {name})") from None
            raise ServiceError(self._scrub(
                f"workflow {name} not found in {self.full_name}: give the file name under "
                ".github/workflows (train.yml) or the workflow's id")) from None

    def _runs(self, workflow: Workflow, ref: str, created: str,
              budget: _Budget) -> list[WorkflowRun]:
        listing = workflow.get_runs(event="workflow_dispatch", branch=ref, created=created)
        return list(self._call("list_runs", f"list the runs of workflow {workflow.name}",
                               lambda: listing.get_page(0), budget))

    def _new_run(self, workflow: Workflow, ref: str, created: str, before: set[int],
                 budget: _Budget, waits: tuple[float, ...]) -> WorkflowRun | None:
        """The newest run not listed before the dispatch, looking again after each wait."""
        for wait in (0.0, *waits):
            if wait:
                self._sleep(wait)
            fresh = [r for r in self._runs(workflow, ref, created, budget) if r.id not in before]
            if fresh:
                return max(fresh, key=lambda r: r.id)
        return None

    def _refused(self, exc: Any, name: str, ref: str, inputs: dict[str, str]) -> str:
        """GitHub's 422 as what to change in the workflow or the configuration."""
        detail = _detail(exc)
        passed = ", ".join(sorted(inputs)) or "none"
        where = f"workflow {name} in {self.full_name}"
        if "workflow_dispatch' trigger" in detail:
            return (f"{where} has no workflow_dispatch trigger: add `on: workflow_dispatch` "
                    f"declaring the inputs mlgate passes ({passed})")
        if detail.startswith("Unexpected inputs provided"):
            return (f"{where} does not declare inputs mlgate passes ({detail}): declare them "
                    f"under on.workflow_dispatch.inputs (mlgate passes {passed})")
        if detail.startswith("Required input"):
            return (f"{where} requires an input mlgate does not pass ({detail}): give it a "
                    f"default (mlgate passes {passed})")
        if detail.startswith("No ref found"):
            return f"ref {ref!r} not found in {self.full_name} ({detail})"
        if "disabled workflow" in detail:
            return f"{where} is disabled: enable it to retrain"
        return f"GitHub refused to dispatch {where} on {ref} (HTTP 422: {detail})"


def _create_dispatch(workflow: Workflow, ref: str, inputs: dict[str, str]) -> bool:
    """POST .../dispatches, raising on an error: PyGithub before 2.6 has no `throw` and
    answers a refusal with False and no reason, so there the request is sent directly."""
    if "throw" in inspect.signature(workflow.create_dispatch).parameters:
        return bool(workflow.create_dispatch(ref, inputs, throw=True))
    workflow.requester.requestJsonAndCheck("POST", f"{workflow.url}/dispatches",
                                           input={"ref": ref, "inputs": inputs})
    return True


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _GitLabPipelines(GitLabClient):
    """POST /projects/:id/pipeline with variables, over promote's GitLabClient."""

    def start(self, ref: str, variables: dict[str, str],
              sleep: Callable[[float], None]) -> tuple[str, str]:
        project = self._project()
        data = {"ref": ref, "variables": [{"key": k, "value": v, "variable_type": "env_var"}
                                          for k, v in variables.items()]}
        what = f"start a pipeline on {ref}"
        before = self._pipeline_ids(ref)
        for attempt in range(self.retries + 1):
            if attempt and (found := self._new_pipeline(ref, before)) is not None:
                return found, f"started a pipeline on {ref}: {found}"
            try:
                pipeline = self._api("pipeline", what, lambda: project.pipelines.create(
                    data, retry_transient_errors=False, **self._call_opts()),
                    conflict=lambda code, _msg: code in _TRANSIENT,
                    bad_input=lambda code, msg: self._refused(code, msg, ref))
                url = str(pipeline.web_url)
                return url, f"started a pipeline on {ref}: {url}"
            except Conflict:  # a 5xx: the pipeline may exist (lost answer); look before retrying
                sleep(min(8.0, 0.5 * 2 ** attempt))
        raise ServiceError(self._scrub(f"GitLab kept failing to {what} in {self.project_path} "
                                       f"after {self.retries} retries"))

    def _pipeline_ids(self, ref: str) -> set[int]:
        listing = self._api("pipeline-list", f"list the pipelines of {ref}", lambda: self
                            ._project().pipelines.list(ref=ref, source="api", order_by="id",
                                                       sort="desc", per_page=RECENT_PIPELINES,
                                                       get_all=False, **self._call_opts()))
        return {int(p.id) for p in listing}

    def _new_pipeline(self, ref: str, before: set[int]) -> str | None:
        try:
            listing = self._api("pipeline-list", f"list the pipelines of {ref}", lambda: self
                                ._project().pipelines.list(ref=ref, source="api",
                                                           order_by="id", sort="desc",
                                                           per_page=RECENT_PIPELINES,
                                                           get_all=False, **self._call_opts()))
        except MlgateError:
            return None
        fresh = [p for p in listing if int(p.id) not in before]
        return str(max(fresh, key=lambda p: int(p.id)).web_url) if fresh else None

    def _refused(self, code: int, message: str, ref: str) -> str | None:
        """GitLab's refusals of a pipeline as what to change (BadInput: configuration)."""
        where = self.project_path
        text = re.sub(r"[{}\[\]']", "", message).replace("base: ", "").strip()
        if code == 403:
            return (f"the GitLab token may not create pipelines in {where} (403): it needs the "
                    "api scope and the Developer role")
        if code != 400:
            return None
        if "set pipeline variables" in text:
            return (f"GitLab project {where} does not let this token's role set pipeline "
                    "variables (400: Insufficient permissions to set pipeline variables): "
                    "lower Settings > CI/CD > Variables > 'Minimum role to use pipeline "
                    "variables' or use a token with that role")
        if "Reference not found" in text:
            return f"ref {ref!r} not found in GitLab project {where} (400: Reference not found)"
        if "protected ref" in text:
            return (f"the GitLab token may not run pipelines on protected ref {ref!r} in "
                    f"{where} (400: {text})")
        if "Missing CI config file" in text:
            return f"GitLab project {where} has no CI configuration on {ref!r} (400: {text})"
        if "rules configuration prevented" in text:
            return (f"the workflow:rules of {where} keep API pipelines out (400: {text}): let "
                    "$CI_PIPELINE_SOURCE == \"api\" run the training")
        return f"GitLab refused to start a pipeline on {ref!r} in {where} (400: {text})"
