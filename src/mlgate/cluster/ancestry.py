"""Whether the revision a controller applied contains the promotion's commit.

A controller that already applied a later commit (another promotion landed right after ours)
has applied ours too; only the config repo can say so. The repo is cloned bare without trees or
blobs (`--filter=tree:0`): the commit graph alone, cheap even for a long history. A commit the
clone does not know yet (pushed after it was made) triggers one fetch before the answer is no.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from mlgate.errors import ServiceError


class GitAncestry:
    def __init__(self, repo: str, environ: Mapping[str, str]) -> None:
        from mlgate.promote.git import check_repo_url

        self.url = check_repo_url(repo)
        self.environ = environ
        self._dir: str | None = None
        self._git = None
        self._known: dict[tuple[str, str], bool] = {}

    def _repo(self):
        from mlgate.promote.git import Git, GitError, describe_failure, private_tempdir
        from mlgate.promote.settings import credentials

        if self._git is None:
            private = private_tempdir("mlgate-ancestry-")
            creds = None
            for provider in ("git", "github", "gitlab"):
                creds = credentials(provider, self.environ)
                if creds:
                    break
            git = Git(private, creds, private, self.environ)
            repo = os.path.join(private, "config.git")
            try:
                git.run("clone", "--quiet", "--bare", "--filter=tree:0", "--no-tags", "--",
                        self.url, repo)
            except GitError as exc:
                shutil.rmtree(private, ignore_errors=True)
                raise ServiceError(describe_failure(exc, self.url)) from None
            self._dir, self._git = private, (git, repo)
        return self._git

    def _has(self, git, repo: str, sha: str) -> bool:
        return git.run("cat-file", "-e", f"{sha}^{{commit}}", cwd=repo, check=False
                       ).returncode == 0

    def is_descendant(self, reported: str, want: str) -> bool:
        """True when `reported` is `want` or has it in its history."""
        if reported == want:
            return True
        key = (reported, want)
        if key not in self._known:
            from mlgate.promote.git import GitError, describe_failure

            git, repo = self._repo()
            if not (self._has(git, repo, reported) and self._has(git, repo, want)):
                try:
                    git.run("fetch", "--quiet", "--filter=tree:0", "--no-tags", "origin",
                            "+refs/heads/*:refs/heads/*", cwd=repo)
                except GitError as exc:
                    raise ServiceError(describe_failure(exc, self.url)) from None
            if not (self._has(git, repo, reported) and self._has(git, repo, want)):
                return False       # not (yet) in the config repo: ask again next interval
            proc = git.run("merge-base", "--is-ancestor", want, reported, cwd=repo, check=False)
            self._known[key] = proc.returncode == 0
        return self._known[key]

    def close(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir, self._git = None, None


def exact_only(reported: str, want: str) -> bool:
    """Without a config repo to ask, only the very commit counts."""
    return reported == want
