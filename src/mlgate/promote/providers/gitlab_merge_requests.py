"""GitLab: the merge request of a promotion -- open or update it, labels, reviewers, close the
ones it supersedes, and merge when the pipeline succeeds.

Notes are not idempotent: a note is posted without python-gitlab's blind retry, and after a 5xx
the MR's notes are read before posting again. An MR whose create answer was lost is found by the
409 of the retry and updated, never duplicated. Auto-merge: see
:meth:`GitLabMergeRequests._enable_auto_merge`.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from mlgate.errors import BadInput, ServiceError
from mlgate.promote.providers.gitlab_client import _TRANSIENT, GitLabClient
from mlgate.promote.result import ChangeRequestResult
from mlgate.promote.types import ChangeRequestSpec, Conflict, marker

_AUTO_MERGE_REFUSALS = frozenset([405, 406, 409, 422])
# Pipelines are created asynchronously after a push (gitlab-org/gitlab#353984): how long to wait
# for an MR's head pipeline to appear before giving up on auto-merge, and the steps.
PIPELINE_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)
_ACTIVE_PIPELINE = frozenset(["created", "waiting_for_resource", "preparing", "pending",
                              "running", "scheduled"])


def _sleep(seconds: float) -> None:
    """Every wait mlgate itself decides goes through here (tests replace it)."""
    time.sleep(seconds)


class GitLabMergeRequests(GitLabClient):
    """ApiProvider.open_or_update_request for GitLab: one merge request per app/environment."""

    def open_or_update_request(self, spec: ChangeRequestSpec) -> ChangeRequestResult:
        """Update the open MR source -> target in place (or create it), close the MRs it
        supersedes, and turn on merge-when-pipeline-succeeds when asked."""
        self.auto_merge_problem = None
        self.notes_made = []
        self._merged = False
        opened = self._open_mrs()
        reviewer_ids = [self._user_id(name) for name in spec.reviewers]
        mine = _same_branches(opened, spec)
        if mine is None:
            mr, created = self._create_mr(spec, reviewer_ids), True
        else:
            mr, created = self._update_mr(mine, spec, reviewer_ids), False
        iid = int(mr["iid"])
        superseded = self._close_superseded(opened, spec, iid)
        auto = self._enable_auto_merge(iid, spec) if spec.auto_merge else False
        return ChangeRequestResult(url=str(mr.get("web_url", "")), number=iid, created=created,
                                   superseded=superseded, auto_merge=auto and not self._merged,
                                   merged=self._merged, note=" ".join(self.notes_made))

    def _open_mrs(self) -> list[dict[str, Any]]:
        """Every open MR of the project, 100 a page (one call unless more than 100 are open)."""
        project = self._project()
        found = self._api("mr-list", "list open merge requests",
                          lambda: project.mergerequests.list(
                              state="opened", per_page=100, get_all=True, **self._call_opts()))
        return [dict(mr.attributes) for mr in found]

    def _user_id(self, username: str) -> int:
        if username not in self._user_ids:
            found = self._api("user-lookup", f"look up user {username}",
                              lambda: self._gl.users.list(username=username,
                                                          **self._call_opts()))
            if not found:
                raise BadInput(f"reviewer {username!r} is not a GitLab user")
            self._user_ids[username] = int(found[0].id)
        return self._user_ids[username]

    def _create_mr(self, spec: ChangeRequestSpec, reviewer_ids: list[int]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source_branch": spec.source_branch, "target_branch": spec.target_branch,
            "title": spec.title, "description": spec.body,
        }
        if spec.labels:
            data["labels"] = ",".join(spec.labels)
        if reviewer_ids:
            data["reviewer_ids"] = reviewer_ids
        project = self._project()
        try:
            mr = self._api("mr-create", f"open a merge request from {spec.source_branch}",
                           lambda: project.mergerequests.create(data, **self._call_opts()),
                           conflict=lambda code, _msg: code == 409)
        except Conflict:
            # Created by a concurrent promotion between our list and our create: update it.
            mine = _same_branches(self._open_mrs(), spec)
            if mine is None:
                raise
            return self._update_mr(mine, spec, reviewer_ids)
        return dict(mr.attributes)

    def _update_mr(self, mr: dict[str, Any], spec: ChangeRequestSpec,
                   reviewer_ids: list[int]) -> dict[str, Any]:
        """Title and body replaced; labels and reviewers added to what people already set."""
        data: dict[str, Any] = {"title": spec.title, "description": spec.body}
        if spec.labels:
            data["add_labels"] = ",".join(spec.labels)
        existing = [int(r["id"]) for r in mr.get("reviewers") or [] if "id" in r]
        if reviewer_ids and not set(reviewer_ids) <= set(existing):
            data["reviewer_ids"] = existing + [i for i in reviewer_ids if i not in existing]
        iid = int(mr["iid"])
        project = self._project()
        updated = self._api("mr-update", f"update merge request !{iid}",
                            lambda: project.mergerequests.update(iid, data, **self._call_opts()))
        return {**mr, **updated}

    def _close_superseded(self, opened: list[dict[str, Any]], spec: ChangeRequestSpec,
                          iid: int) -> tuple[int, ...]:
        """Close the other open MRs that promote the same app/environment (marker in body)."""
        mark = marker(spec.app, spec.environment)
        closed = []
        for other in opened:
            number = int(other["iid"])
            if number != iid and mark in (other.get("description") or ""):
                self._close_one(number, f"Superseded by !{iid}")
                closed.append(number)
        return tuple(closed)

    def _close_one(self, number: int, note: str) -> None:
        """A note first (people watching the old MR learn where it went), then the close."""
        project = self._project()
        self._note_once(number, note)
        self._api("mr-close", f"close merge request !{number}",
                  lambda: project.mergerequests.update(number, {"state_event": "close"},
                                                       **self._call_opts()))

    def _note_once(self, number: int, body: str) -> None:
        """Post a note unless the MR already has it. A POST is not idempotent, so it goes
        without python-gitlab's blind retry: after a 5xx (whose note may well exist -- a lost
        answer) the notes are read again before another try."""
        mr_obj = self._project().mergerequests.get(number, lazy=True)
        what = f"comment on merge request !{number}"
        for attempt in range(self.retries + 1):
            if self._has_note(mr_obj, number, body):
                return
            try:
                self._api("note", what, lambda: mr_obj.notes.create(
                    {"body": body}, retry_transient_errors=False, **self._call_opts()),
                    conflict=lambda code, _msg: code in _TRANSIENT)
                return
            except Conflict:  # a 5xx: did it land anyway?
                _sleep(0.1 * 2**attempt)
        raise ServiceError(self._scrub(
            f"GitLab kept failing to {what} in {self.project_path} after {self.retries} "
            "retries"))

    def _has_note(self, mr_obj: Any, number: int, body: str) -> bool:
        notes = self._api("note-list", f"read the notes of merge request !{number}",
                          lambda: mr_obj.notes.list(per_page=100, order_by="created_at",
                                                    sort="desc", **self._call_opts()))
        return any(getattr(n, "body", None) == body for n in notes)

    def _enable_auto_merge(self, iid: int, spec: ChangeRequestSpec) -> bool:
        """Merge when the pipeline succeeds, as GitLab really allows it:

        - PUT .../merge with ``merge_when_pipeline_succeeds`` (GitLab < 17.11) and ``auto_merge``
          (its successor; GitLab ignores the one it does not know). Current GitLab merges a
          mergeable MR without a running pipeline at once (True).
        - Refused (405/406/409/422): the MR is read to learn why. Conflicts (the base moved
          after mlgate built the branch): Conflict, so the caller rebuilds the branch on the new
          head and comes back -- never auto-merge on a conflicted MR. No head pipeline yet -- GitLab creates it after the
          push, asynchronously (gitlab-org/gitlab#353984) -- wait with backoff
          (PIPELINE_BACKOFF, about 30 s) and try again.
        - A project that runs no pipelines (CI disabled, or no CI configuration on the source
          branch): auto-merge is not available on GitLab before 17.11; nothing is left to wait
          for, so the MR is merged directly when GitLab reports it mergeable (pinned to the
          reviewed head sha), else left open with the reason.
        - A failed pipeline, or none within the wait: left open, with the reason.
        The reason is kept in auto_merge_problem; what happened in notes_made."""
        delays = iter(PIPELINE_BACKOFF)
        while True:
            refusal = self._put_merge(iid, auto=True, sha=spec.head_sha or None)
            if refusal is None:
                return self._merged_or_auto(iid)
            mr = self._read_mr(iid)
            if mr.get("state") == "merged" or mr.get("merge_when_pipeline_succeeds"):
                self._merged = mr.get("state") == "merged"
                return True
            if mr.get("has_conflicts") or mr.get("merge_status") == "cannot_be_merged":
                raise Conflict(self._scrub(
                    f"merge request !{iid} conflicts with {spec.target_branch}, so GitLab will "
                    f"not merge it ({refusal})"))
            pipeline = mr.get("head_pipeline") or None
            if pipeline is None and not self._runs_pipelines(mr):
                return self._merge_without_pipeline(iid, mr, spec.head_sha)
            status = None if pipeline is None else str(pipeline.get("status"))
            if status is not None and status not in _ACTIVE_PIPELINE:
                return self._refused(f"auto-merge not enabled on !{iid}: its pipeline "
                                     f"{status} ({refusal})")
            delay = next(delays, None)
            if delay is None:
                waited = sum(PIPELINE_BACKOFF)
                return self._refused(f"auto-merge not enabled on !{iid}: no pipeline started "
                                     f"for it within {waited:.0f}s ({refusal}); merge it when "
                                     "its pipeline passes")
            _sleep(delay)

    def _put_merge(self, iid: int, *, auto: bool, sha: str | None = None) -> str | None:
        """PUT .../merge; None when accepted, else GitLab's refusal as text."""
        path = f"/projects/{quote(self.project_path, safe='')}/merge_requests/{iid}/merge"
        body: dict[str, Any] = ({"merge_when_pipeline_succeeds": True, "auto_merge": True}
                                if auto else {})
        if sha:
            body["sha"] = sha
        what = (f"enable auto-merge on merge request !{iid}" if auto
                else f"merge merge request !{iid}")
        codes: list[int] = []
        try:
            self._last_merge = self._api(
                "mr-merge", what, lambda: self._gl.http_put(path, post_data=body,
                                                           **self._call_opts()),
                conflict=lambda code, _msg: codes.append(code) or code in _AUTO_MERGE_REFUSALS)
        except Conflict as refusal:
            return f"{codes[-1]}: {refusal}"
        return None

    def _merged_or_auto(self, iid: int) -> bool:
        data = self._last_merge if isinstance(self._last_merge, dict) else {}
        if data.get("state") == "merged":
            self._merged = True
            self.notes_made.append(f"GitLab merged !{iid} at once: no pipeline was running, "
                                   "so there was nothing for auto-merge to wait for")
            return True
        return bool(data.get("merge_when_pipeline_succeeds") or data.get("auto_merge_enabled"))

    def _read_mr(self, iid: int) -> dict[str, Any]:
        project = self._project()
        mr = self._api("mr-get", f"read merge request !{iid}",
                       lambda: project.mergerequests.get(iid, **self._call_opts()))
        return dict(mr.attributes)

    def _runs_pipelines(self, mr: dict[str, Any]) -> bool:
        """False when the project cannot run a pipeline for this MR: CI/CD disabled, or no CI
        configuration file on the source branch (an external ci_config_path counts as one)."""
        project = self._project()
        info = self._api("project", f"read project {self.project_path}",
                         lambda: self._gl.projects.get(self.project_path, **self._call_opts()))
        attrs = dict(info.attributes)
        if attrs.get("jobs_enabled") is False or attrs.get("builds_access_level") == "disabled":
            return False
        config = str(attrs.get("ci_config_path") or ".gitlab-ci.yml")
        if "@" in config or "://" in config:
            return True
        try:
            self._api("ci-config", f"look for {config}",
                      lambda: project.files.get(config, ref=str(mr.get("source_branch")),
                                                **self._call_opts()))
        except ServiceError:
            return False  # 404: no CI configuration, no pipeline will ever come
        return True

    def _merge_without_pipeline(self, iid: int, mr: dict[str, Any], head_sha: str) -> bool:
        """No pipeline will ever run: merge now if GitLab says the MR is mergeable."""
        why = f"{self.project_path} runs no pipelines, so GitLab has no auto-merge to set"
        if mr.get("detailed_merge_status", "mergeable") != "mergeable":
            return self._refused(f"auto-merge not available on !{iid}: {why}, and GitLab "
                                 f"reports it {mr.get('detailed_merge_status')}; left open")
        refusal = self._put_merge(iid, auto=False, sha=head_sha or str(mr.get("sha") or "") or None)
        if refusal is not None:
            return self._refused(f"auto-merge not available on !{iid}: {why}; merging it "
                                 f"directly was refused too ({refusal}); left open")
        self._merged = True
        self.notes_made.append(f"auto-merge not available on !{iid}: {why}; GitLab reported "
                               "it mergeable, so mlgate merged it directly")
        return True

    def _refused(self, reason: str) -> bool:
        self.auto_merge_problem = self._scrub(reason)
        self.notes_made.append(self.auto_merge_problem)
        return False


def _same_branches(opened: list[dict[str, Any]], spec: ChangeRequestSpec) -> dict[str, Any] | None:
    """The open MR from spec's source branch to its target, in this project (not a fork)."""
    for mr in opened:
        if mr.get("source_branch") == spec.source_branch \
                and mr.get("target_branch") == spec.target_branch \
                and mr.get("source_project_id") == mr.get("target_project_id"):
            return mr
    return None
