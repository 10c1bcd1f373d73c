"""The forge vocabulary shared by the landing and the forge providers: a conflict, a file
change, a request to open, the API call counter. The package's inputs are in `config.py`, its
results in `result.py`."""

from __future__ import annotations

from dataclasses import dataclass, field


class Conflict(Exception):
    """The target branch moved under us (push rejected, 409/422 from an API).

    Not an exit code: the promotion re-applies its rewrite on the new head and tries again.
    """


@dataclass(frozen=True)
class FileChange:
    """A file's new full content, repo-relative with forward slashes."""

    path: str
    content: bytes
    executable: bool = False


@dataclass(frozen=True)
class ChangeRequestSpec:
    """One pull/merge request per app and environment, opened or updated in place."""

    app: str
    environment: str
    source_branch: str
    target_branch: str
    title: str
    body: str  # Markdown, ends with the hidden marker from marker()
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    auto_merge: bool = False
    # the commit mlgate just pushed to source_branch: auto-merge and merges are pinned to it,
    # because a forge can report the previous head for a moment after a push
    head_sha: str = ""


@dataclass
class CallCounter:
    """API calls a provider made, by kind (the benchmark reports them)."""

    calls: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def marker(app: str, environment: str) -> str:
    """Hidden text in a request body that says which app/environment it promotes."""
    return f"<!-- mlgate:promotion app={app} environment={environment} -->"
