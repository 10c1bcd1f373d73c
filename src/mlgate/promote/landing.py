"""Land a rewrite on the config repository: clone what is needed, rewrite, commit, push or
open a request, and when someone else landed first, re-apply on the new head.

Re-applying the rewrite (not rebasing a textual diff) is what makes concurrent promotions
safe: each attempt reads the head it will commit on, so a value changed meanwhile is seen,
checked against --expect-current and never silently overwritten; nothing is force-pushed to
the base branch.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mlgate.errors import BadInput, ServiceError
from mlgate.manifests.config import RewriteConfig
from mlgate.manifests.result import RewriteResult
from mlgate.promote.config import Options, Target
from mlgate.promote.confine import check_changed, check_real, symlinked_folder
from mlgate.promote.evidence_dir import EvidenceFiles, folder_for, new_id
from mlgate.promote.git import Git, GitError, describe_failure, private_tempdir
from mlgate.promote.message import Promotion, commit_message
from mlgate.promote.result import ChangeRequestResult
from mlgate.promote.tagging import (TagResult, TagSpec, TagTaken, check_free_git, name_for, tag_git,
                                    taken)
from mlgate.promote.tagging import message as tag_message
from mlgate.promote.types import ChangeRequestSpec, Conflict, FileChange, marker


@dataclass(frozen=True)
class Planned:
    """What one attempt will do on the head it sees."""

    config: RewriteConfig
    promotion: Promotion


@dataclass(frozen=True)
class Landed:
    changed: bool
    commit: str | None
    base_head: str
    attempts: int
    promotion: Promotion | None
    rewrite: RewriteResult | None
    request: ChangeRequestResult | None = None
    message: str = ""
    notes: tuple[str, ...] = ()  # e.g. an evidence file kept as a reference past the caps
    tag: TagResult | None = None  # --tag: the annotated tag made on the commit


Planner = Callable[[str], Planned]


def land(
    target: Target,
    sparse: tuple[str, ...],
    planner: Planner,
    options: Options,
    provider_factory: Callable[[], object] | None = None,
    say: Callable[[str], None] = lambda _m: None,
    *,
    folder: str,
    tag: TagSpec | None = None,
) -> Landed:
    """Land the planned rewrite; `folder` is the environment folder, the only place the commit
    may change (checked on the rewritten files and again on the final change, see confine).
    `tag` (promote --tag): the commit is tagged, over git in the same atomic push (tagging)."""
    from mlgate.manifests.engine import rewrite

    private = private_tempdir("mlgate-promote-")
    try:
        checkout = os.path.join(private, "repo")
        git = Git(private, target.credentials, private)
        _clone(git, target, checkout, sparse)
        provider = None
        sent: str | None = None  # the message of a commit sent whose answer was lost
        # one evidence folder per landing, kept across attempts: a re-sent API commit after a
        # lost answer carries the same message, so it is recognised as ours
        evidence_id = new_id()
        free: set[str] = set()  # tag names checked free on the remote
        for attempt in range(1, options.max_attempts + 1):
            if attempt > 1:
                _backoff(attempt)
                _refresh(git, target, checkout)
            head = git.run("rev-parse", "HEAD", cwd=checkout).stdout.strip()
            planned = planner(checkout)
            result = rewrite(planned.config)
            for rel in result.files:  # a symlink in the folder may have led the write elsewhere
                check_real(checkout, folder, rel, rel)
            tag_name = name_for(tag, planned.promotion) if tag is not None else None
            if not result.changed:
                if sent is not None and _head_message(git, checkout) == sent.strip():
                    # an API retry after a lost answer: our own commit is the new head
                    tagged = _tag_api(provider, tag, tag_name, head, sent, planned, result,
                                      options)
                    return Landed(True, head, head, attempt, planned.promotion, result,
                                  message=sent, tag=tagged)
                return Landed(False, None, head, attempt, planned.promotion, result)
            where = folder_for(planned.promotion.app, planned.promotion.environment, evidence_id)
            planned = replace(planned, promotion=replace(planned.promotion, evidence_dir=where))
            message = commit_message(planned.promotion, options.verb)
            bundle = _evidence(checkout, result, planned, options, message)
            notes = bundle.capped
            if attempt == 1:
                for note in notes:
                    say(note)
            if target.mode == "pull-request":
                provider = provider or _provider(provider_factory)
                try:
                    return _request(git, target, checkout, head, planned, result, message,
                                    options, provider, attempt, folder, say, bundle)
                except Conflict as exc:  # e.g. the base moved and now conflicts with the request
                    say(f"attempt {attempt}: {exc}; re-applying on the new head")
                    continue
            if tag_name is not None and tag_name not in free:
                if target.provider == "git":
                    check_free_git(git, checkout, tag_name, target.url)
                else:
                    provider = provider or _provider(provider_factory)
                    if provider.tag_exists(tag_name):  # type: ignore[attr-defined]
                        raise BadInput(taken(tag_name))
                free.add(tag_name)
            if target.provider == "git":
                sha = _commit(git, checkout, result, message, options, folder, bundle)
                tagged = None
                if tag_name is not None:
                    obj = tag_git(git, checkout, tag_name,
                                  tag_message(planned.promotion, message.splitlines()[0]),
                                  _identity(options)[0], sign=bool(options.signing_key))
                    tagged = TagResult(tag_name, sha, obj, signed=bool(options.signing_key))
                if _push(git, target, checkout, tag=tag_name):
                    return Landed(True, sha, head, attempt, planned.promotion, result,
                                  message=message, notes=notes, tag=tagged)
                say(f"attempt {attempt}: {target.base} moved; re-applying on the new head")
                continue
            changes = _file_changes(checkout, result) + list(bundle.files)
            check_changed([c.path for c in changes] + _dirty_paths(git, checkout), folder,
                          bundle.folder)
            provider = provider or _provider(provider_factory)
            sent = message
            try:
                sha = provider.commit_files(  # type: ignore[attr-defined]
                    target.base, head, changes, message, options.author,
                    created=bundle.paths,  # a new folder: every evidence file is new
                )
            except Conflict as exc:  # moved, or a write GitHub could not do yet (replica lag)
                say(f"attempt {attempt}: {target.base} moved; re-applying on the new head ({exc})")
                continue
            tagged = _tag_api(provider, tag, tag_name, sha, message, planned, result, options)
            return Landed(True, sha, head, attempt, planned.promotion, result, message=message,
                          notes=notes, tag=tagged)
        raise ServiceError(
            f"gave up after {options.max_attempts} attempts: {target.base} kept moving "
            "(raise --max-attempts for busy config repos)"
        )
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _head_message(git: Git, checkout: str) -> str:
    return git.run("log", "-1", "--format=%B", cwd=checkout).stdout.strip()


def _provider(factory: Callable[[], object] | None) -> object:
    if factory is None:
        raise BadInput("this mode needs --provider github or gitlab")
    return factory()


def _clone(git: Git, target: Target, checkout: str, sparse: tuple[str, ...]) -> None:
    args = ["clone", "--quiet", "--depth", "1", "--single-branch", "--branch", target.base,
            "--no-tags"]
    if sparse:
        args += ["--filter=blob:none", "--sparse"]
    try:
        git.run(*args, "--", target.url, checkout)
        if sparse:
            _refuse_symlinked(git, checkout, sparse)
            git.run("sparse-checkout", "set", "--", *sparse, cwd=checkout)
    except GitError as exc:
        if "remote branch" in exc.stderr and "not found" in exc.stderr:
            raise BadInput(f"--base {target.base!r}: no such branch in the config repo") from None
        raise ServiceError(describe_failure(exc, target.url)) from None


def _refuse_symlinked(git: Git, checkout: str, folders: tuple[str, ...]) -> None:
    """A folder to check out (or one above it) that is a symlink in the tree: bad input, said
    plainly, rather than sparse-checkout's "is not a directory" (and never followed)."""
    for folder in folders:
        parts = folder.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        listing = git.run("ls-tree", "-z", "HEAD", "--", *prefixes, cwd=checkout).stdout
        for entry in filter(None, listing.split("\0")):
            meta, _, path = entry.partition("\t")
            if meta.startswith("120000 ") and path in prefixes:
                raise BadInput(symlinked_folder(f"environment folder {folder}", path))


def _refresh(git: Git, target: Target, checkout: str) -> None:
    try:
        git.run("fetch", "--quiet", "--depth", "1", "--no-tags", "origin",
                f"+refs/heads/{target.base}:refs/remotes/origin/{target.base}", cwd=checkout)
        git.run("reset", "--quiet", "--hard", f"origin/{target.base}", cwd=checkout)
        git.run("clean", "-fdq", cwd=checkout)
    except GitError as exc:
        raise ServiceError(describe_failure(exc, target.url)) from None


def _backoff(attempt: int) -> None:
    """Jittered exponential backoff, so racing promotions spread out instead of colliding."""
    delay = min(5.0, 0.1 * (2 ** min(attempt - 2, 6)))
    time.sleep(delay * random.uniform(0.5, 1.5))


def _evidence(checkout: str, result: RewriteResult, planned: Planned, options: Options,
              message: str) -> EvidenceFiles:
    """The evidence files this commit adds (see evidence_dir): the statement hashes the
    rewritten files' new bytes, the summary is the request body's Markdown."""
    from mlgate.promote import evidence_dir
    from mlgate.promote.request_body import request_body

    p = planned.promotion
    assert p.evidence_dir is not None
    key = options.attestation_key
    sign = None
    if key is not None:
        from mlgate.promote.attest import envelope

        def sign(payload: bytes) -> bytes:
            return envelope(payload, key)

    summary = request_body(p, result, message.splitlines()[0])
    return evidence_dir.build(p.evidence_dir, p, _file_changes(checkout, result), summary,
                              verb=options.verb, sign=sign)


def _write(checkout: str, bundle: EvidenceFiles) -> None:
    """Put the evidence files in the work tree for `git add` (outside the sparse cone: the
    folder is new, and the history of other promotions' evidence is never checked out)."""
    for change in bundle.files:
        path = os.path.join(checkout, *change.path.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(change.content)


def _identity(options: Options) -> tuple[dict[str, str], bool]:
    """The committer (also the tagger) and the signing settings, as git -c settings; and
    whether to sign."""
    config = {
        "user.name": options.committer.name,
        "user.email": options.committer.email,
        "commit.gpgsign": "false",
    }
    if options.signing_key:
        config["user.signingkey"] = options.signing_key
        config["gpg.format"] = "ssh" if options.signing_format == "ssh" else "openpgp"
    return config, bool(options.signing_key)


def _tag_api(provider, tag: TagSpec | None, name: str | None, sha: str, message: str,
             planned: Planned, result: RewriteResult, options: Options) -> TagResult | None:
    """Through a forge's API: the annotated tag on the commit that just landed, then the
    release when asked (its notes: the promotion's Markdown summary, as in summary.md)."""
    if tag is None or name is None:
        return None
    from mlgate.promote.request_body import request_body

    subject = message.splitlines()[0]
    try:
        obj = provider.create_tag(name, sha, tag_message(planned.promotion, subject),
                                  options.committer)
    except TagTaken:
        raise ServiceError(f"the promotion landed as commit {sha[:12]}, but --tag {name!r} was "
                           "created on the config repo meanwhile (after mlgate checked it was "
                           "free): the commit is not tagged") from None
    url = None
    if tag.release:
        # the same text as the evidence folder's summary.md
        body = request_body(planned.promotion, result, subject).rstrip("\n") + "\n"
        url = provider.create_release(name, subject, body)
    return TagResult(name, sha, obj, release_url=url)


def _commit(git: Git, checkout: str, result: RewriteResult, message: str, options: Options,
            folder: str, bundle: EvidenceFiles) -> str:
    config, sign = _identity(options)
    args = ["commit", "--quiet", "--no-verify", "-F", "-",
            f"--author={options.author.name} <{options.author.email}>"]
    if sign:
        args.append("-S")
    try:
        _write(checkout, bundle)
        git.run("add", "--sparse", "--", *result.files, *bundle.paths, cwd=checkout)
        # what the commit would hold: the environment folder and this commit's evidence only
        check_changed(_dirty_paths(git, checkout), folder, bundle.folder)
        git.run(*args, cwd=checkout, input=message, config=config)
    except GitError as exc:
        raise BadInput(f"git commit failed: {exc.stderr.strip()[:300]}") from None
    return git.run("rev-parse", "HEAD", cwd=checkout).stdout.strip()


def _push(git: Git, target: Target, checkout: str, ref: str | None = None,
          lease: str | None = None, tag: str | None = None) -> bool:
    """Push HEAD; False when the remote moved (the caller re-applies), never forced on the base.
    With `tag`, the tag goes in the same `git push --atomic`: both refs land or neither."""
    dest = ref or f"refs/heads/{target.base}"
    args = ["push", "--porcelain", "--no-verify"]
    if lease is not None:
        args.append(f"--force-with-lease={dest}:{lease}")
    refspecs = [f"HEAD:{dest}"]
    if tag is not None:
        args.append("--atomic")
        refspecs.append(f"refs/tags/{tag}:refs/tags/{tag}")
    proc = git.run(*args, "origin", *refspecs, cwd=checkout, check=False)
    if proc.returncode == 0:
        return True
    if tag is not None and _tag_refused(proc.stdout, tag):
        raise BadInput(taken(tag, meanwhile=True))
    # git's own words only: a hook's `remote:` text must not pass for "the branch moved"
    text = proc.stdout + "\n".join(line for line in proc.stderr.splitlines()
                                   if not line.lstrip().startswith("remote:"))
    if any(s in text for s in ("[rejected]", "fetch first", "non-fast-forward", "stale info",
                               "cannot lock ref", "failed to update ref")):
        return False
    failure = GitError(("push",), proc.returncode, proc.stdout, proc.stderr)
    if proc.returncode != 128 or "RPC failed" in text or "returned error: 5" in text:
        # the answer was lost or the server failed: did the push land anyway?
        head = git.run("rev-parse", "HEAD", cwd=checkout).stdout.strip()
        remote = git.run("ls-remote", "origin", dest, cwd=checkout, check=False).stdout.split()
        if remote and remote[0] == head:
            return True
        if "RPC failed" in text or "returned error: 5" in text:
            return False  # a transient server error: fetch, re-apply and try again
    raise ServiceError(describe_failure(failure, target.url))


def _tag_refused(porcelain: str, tag: str) -> bool:
    """Whether the push's porcelain report refused the tag because the remote has it (`!`,
    `[rejected] (already exists)`): someone made it after the check; the atomic push then
    refused the branch too ("atomic push failed")."""
    for line in porcelain.splitlines():
        flag, _, rest = line.partition("\t")
        refspec, _, summary = rest.partition("\t")
        if flag == "!" and refspec.endswith(f":refs/tags/{tag}") and "already exists" in summary:
            return True
    return False


def _dirty_paths(git: Git, checkout: str) -> list[str]:
    """Every path that differs from HEAD in the index or the work tree, untracked files
    included: after a rewrite, anything here is what a commit from this checkout would hold."""
    out = git.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames",
                  "--ignored=no", cwd=checkout).stdout
    return [entry[3:] for entry in out.split("\0") if len(entry) > 3]


def _file_changes(checkout: str, result: RewriteResult) -> list[FileChange]:
    changes = []
    for rel in result.files:
        path = os.path.join(checkout, rel)
        with open(path, "rb") as fh:
            content = fh.read()
        changes.append(FileChange(rel.replace(os.sep, "/"), content, os.access(path, os.X_OK)))
    return changes


def request_branch(promotion: Promotion) -> str:
    return f"mlgate/{promotion.app}/{promotion.environment}"


def _request(git, target, checkout, head, planned, result, message, options, provider,
             attempt, folder, say, bundle: EvidenceFiles) -> Landed:
    from mlgate.promote.request_body import request_body

    branch = request_branch(planned.promotion)
    sha = _commit(git, checkout, result, message, options, folder, bundle)
    remote = git.run("ls-remote", "--heads", "origin", f"refs/heads/{branch}", cwd=checkout,
                     check=False)
    lease = remote.stdout.split()[0] if remote.returncode == 0 and remote.stdout.strip() else ""
    # the request branch belongs to mlgate: it is replaced (with a lease), the base never is
    if not _push(git, target, checkout, ref=f"refs/heads/{branch}", lease=lease):
        raise ServiceError(f"{branch} changed while mlgate was updating it; run again")
    title = message.splitlines()[0]
    spec = ChangeRequestSpec(
        app=planned.promotion.app,
        environment=planned.promotion.environment,
        source_branch=branch,
        target_branch=target.base,
        title=title,
        body=request_body(planned.promotion, result, title) + "\n\n"
        + marker(planned.promotion.app, planned.promotion.environment) + "\n",
        labels=options.labels,
        reviewers=options.reviewers,
        auto_merge=options.auto_merge,
        head_sha=sha,  # what was pushed: the forge may still report the previous head
    )
    opened = provider.open_or_update_request(spec)
    if getattr(opened, "note", ""):
        say(opened.note)
    return Landed(True, sha, head, attempt, planned.promotion, result, opened, message,
                  bundle.capped)
