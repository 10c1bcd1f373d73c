"""`promote --tag NAME`: name the promotion commit with an annotated tag (and, through a forge's
API with --release, a release whose notes are the promotion's Markdown summary).

Why a tag as well as the commit: auditors and release managers ask for "the Q2 fraud model" or
"churn-production-7", not for a sha; a tag is git's own name for a commit, readable by every
tool, and an annotated one records who named it and when.

What holds, per landing:
- The name is a template ({app}, {environment}, {version}, {tag}, {date}) or a plain name; after
  expansion it must be a valid git tag name (`git check-ref-format refs/tags/NAME`), else exit 2
  before anything is pushed. A template is checked before cloning with the values known from
  the options, and again on the names the checkout gives (`--from-environment`).
- A name already on the config repo is refused (exit 2) before anything lands: a tag names one
  promotion, it is never moved.
- Over git the tag is pushed with the branch in one `git push --atomic`: both land or neither.
  A re-applied attempt (the base moved) tags its new commit; a tag created by someone else
  between the check and the push makes the atomic push refuse both, and the branch is not moved.
- Through the APIs the tag is made right after the commit (GitHub: tag object, then the ref;
  GitLab: one tags call). Not atomic with the commit: the forges have no such call. The name is
  checked free just before the commit, so only a tag created in the moments between the check
  and the tag call can leave the commit untagged; that is said plainly (exit 3, naming the
  commit that landed).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

from mlgate.errors import BadInput
from mlgate.promote.message import Promotion

PLACEHOLDERS = ("app", "environment", "version", "tag", "date")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_NAME = 200  # forges cap ref names (GitLab: 255 bytes for refs/tags/NAME)


@dataclass(frozen=True)
class TagSpec:
    """--tag and --release as given: the template, and the values fixed before cloning."""

    template: str
    release: bool = False
    date: str = ""  # UTC YYYY-MM-DD, fixed once so a re-applied attempt keeps the same name


@dataclass(frozen=True)
class TagResult:
    """The tag a promotion made: its name, the commit it points at, the tag object's sha
    (an annotated tag is an object of its own), and the release when one was made."""

    name: str
    commit: str
    object_sha: str | None
    signed: bool = False
    release_url: str | None = None


class TagTaken(Exception):
    """The tag name was taken on the remote (found by the check or by a refused write)."""


def spec(template: str | None, release: bool, mode: str, provider: str,
         now: float | None = None) -> TagSpec | None:
    """The tag request from the options, refused (exit 2, one line) where it cannot work."""
    if release and not template:
        raise BadInput("--release needs --tag NAME: a release is made on the promotion's tag")
    if not template:
        return None
    if mode == "pull-request":
        raise BadInput("--tag: --mode pull-request lands nothing until the request is merged; "
                       "tag the merged commit (run promote in push mode, or tag after the merge)")
    if release and provider == "git":
        raise BadInput("--release needs --provider github or gitlab: plain git has no releases "
                       "(the annotated tag carries the promotion's summary)")
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))
    return TagSpec(template, release, day)


def expand(template: str, values: Mapping[str, str | None]) -> str:
    """The tag name: the template's placeholders replaced, then checked as git checks a tag
    name. A placeholder with no value (None) is refused naming it."""
    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in PLACEHOLDERS:
            raise BadInput(f"--tag {_shown(template)}: unknown placeholder {{{key[:30]}}}; use "
                           + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
        value = values.get(key)
        if value is None:
            raise BadInput(f"--tag {_shown(template)}: {{{key}}} has no value here ("
                           + _WHY_EMPTY.get(key, "not known") + ")")
        return value

    name = _PLACEHOLDER.sub(sub, template)
    check_name(name, template)
    return name


_WHY_EMPTY = {"tag": "the promotion sets no image tag", "version": "no model version or image tag"}


def check_name(name: str, template: str) -> str:
    """git's own rules for refs/tags/NAME (check-ref-format), plus no leading '-' (an option
    to every git command) and a length a forge accepts."""
    shown = _shown(template) if template == name else f"{_shown(template)} ({_shown(name)})"
    if (not name or name.startswith("-") or len(name.encode()) > MAX_NAME
            or subprocess.run(["git", "check-ref-format", f"refs/tags/{name}"],
                              capture_output=True, check=False).returncode != 0):
        raise BadInput(f"--tag {shown}: not a valid git tag name (git check-ref-format "
                       "refs/tags/NAME: no spaces, '..', '~', '^', ':', '?', '*', '[', '\\', "
                       f"'@{{', control characters, no '/' at either end; at most {MAX_NAME} "
                       "bytes)")
    return name


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:80] + "…")


def image_tag(p: Promotion) -> str | None:
    """The first image's tag as the promotion recorded it (Mlgate-New), or None."""
    from mlgate.manifests.reference import parse_user_reference

    for new in p.new.values():
        try:
            ref = parse_user_reference(new.split(", ")[0], "Mlgate-New", need_version=False)
        except BadInput:
            return None
        return ref.tag
    return None


def model_version(p: Promotion) -> str | None:
    """The model version the promotion records: the benchmark's candidate, else the registry
    trailer (the same reading as the in-toto statement's model subject)."""
    from mlgate.promote.evidence_dir import model_of

    model = model_of(p)
    version = model.get("version") if model else None
    return version if isinstance(version, str) and version else None


def values_for(tag: TagSpec, p: Promotion) -> dict[str, str | None]:
    """The placeholders' values for one planned promotion."""
    image = image_tag(p)
    return {"app": p.app, "environment": p.environment, "date": tag.date, "tag": image,
            "version": model_version(p) or image}


def name_for(tag: TagSpec, p: Promotion) -> str:
    return expand(tag.template, values_for(tag, p))


def message(p: Promotion, subject: str) -> str:
    """The annotated tag's message: the promotion's subject, then one summary line (where the
    evidence is kept and how the gates judged)."""
    gates = ", ".join(f"{e.command} {e.verdict or ('passed' if e.passed else 'failed')}"
                      for e in p.evidence) or "no gate evidence attached"
    where = f"; evidence {p.evidence_dir}" if p.evidence_dir else ""
    return f"{subject}\n\nmlgate promotion of {p.app} to {p.environment}: {gates}{where}\n"


# --------------------------------------------------------------------------- over git


def check_free_git(git, checkout: str, name: str, url: str) -> None:
    """Refuse (exit 2) a tag name the config repo already has: `git ls-remote` before anything
    is pushed."""
    from mlgate.errors import ServiceError
    from mlgate.promote.git import GitError, describe_failure

    try:
        out = git.run("ls-remote", "--tags", "origin", f"refs/tags/{name}", cwd=checkout).stdout
    except GitError as exc:
        raise ServiceError(describe_failure(exc, url)) from None
    # ls-remote matches patterns by their tail: keep the exact ref only
    if any(line.split("\t", 1)[-1] == f"refs/tags/{name}" for line in out.splitlines()):
        raise BadInput(taken(name))


def taken(name: str, meanwhile: bool = False) -> str:
    when = "was created on the config repo meanwhile" if meanwhile else \
        "already exists on the config repo"
    return (f"--tag {_shown(name)}: a tag of that name {when}; a tag names one promotion and "
            "is never moved: choose another name (e.g. add {date} or {version})"
            + ("; nothing was pushed (the atomic push refused the branch too)" if meanwhile
               else "; nothing was pushed"))


def tag_git(git, checkout: str, name: str, text: str, config: Mapping[str, str],
            sign: bool) -> str:
    """Create (or, on a re-applied attempt, re-create) the annotated tag on HEAD in the
    checkout; returns the tag object's sha."""
    args = ["tag", "--force", "--annotate", "--file", "-"]
    if sign:
        args.append("--sign")
    git.run(*args, "--", name, "HEAD", cwd=checkout, input=text,
            config={**config, "tag.gpgSign": "false"})
    return git.run("rev-parse", f"refs/tags/{name}", cwd=checkout).stdout.strip()
