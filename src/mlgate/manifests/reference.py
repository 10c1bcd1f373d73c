"""OCI image references, parsed and normalised the way Docker does.

`nginx`, `docker.io/library/nginx` and `index.docker.io/library/nginx` name one repository, so
a promotion of any spelling must find all of them, while the manifest keeps its own spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlgate.errors import BadInput

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"

_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
TAG_RE = re.compile(rf"^{_TAG}$")
DIGEST_RE = re.compile(rf"^{_DIGEST}$")

DEFAULT_REGISTRY = "docker.io"
_DOCKER_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference. `name` is as written; `repository` is the normalised form."""

    name: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def version(self) -> str:
        """The tag/digest part as it is appended to a name: ':tag', '@sha256:…' or both."""
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self.version

    @property
    def short_name(self) -> str:
        """The last path component: every spelling of the repository contains it verbatim."""
        return self.repository.rsplit("/", 1)[-1]


class InvalidReference(ValueError):
    pass


def split_name(name: str) -> tuple[str | None, str]:
    """Split 'host/path' into (domain, path) using Docker's rule for what counts as a host."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


def normalize_name(name: str) -> str:
    """The canonical repository for a name: docker.io/library/nginx for nginx, and so on."""
    domain, path = split_name(name)
    if domain is None or domain in _DOCKER_ALIASES:
        domain = DEFAULT_REGISTRY
        if "/" not in path:
            path = f"library/{path}"
    return f"{domain.lower()}/{path}"


def validate_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidReference("repository name is empty or longer than 255 characters")
    domain, path = split_name(name)
    if domain is not None and not _DOMAIN_RE.match(domain):
        raise InvalidReference(f"invalid registry {domain!r}")
    if not _PATH_RE.match(path):
        raise InvalidReference(f"invalid repository path {path!r}")


def validate_tag(tag: str) -> None:
    if not TAG_RE.match(tag) or "\n" in tag:
        shown = tag if len(tag) <= 40 else tag[:40] + "…"
        raise InvalidReference(
            f"invalid tag {shown!r}: a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -"
        )


def validate_digest(digest: str) -> None:
    if not DIGEST_RE.match(digest):
        raise InvalidReference(f"invalid digest {digest[:80]!r}: expected sha256: and 64 hex digits")


def parse_reference(text: str) -> ImageRef:
    """Parse 'name[:tag][@digest]' strictly; raises InvalidReference with the reason."""
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference("whitespace is not allowed in an image reference")
    rest, at, digest = text.partition("@")
    if at:
        validate_digest(digest)
    name, tag = rest, None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        validate_tag(tag)
    validate_name(name)
    return ImageRef(name=name, repository=normalize_name(name), tag=tag, digest=digest or None)


def try_parse_reference(text: str) -> ImageRef | None:
    """Lenient parse for values found in manifests (templated values simply do not match)."""
    if not text or len(text) > 512:
        return None
    try:
        return parse_reference(text)
    except InvalidReference:
        return None


def parse_user_reference(text: str, what: str) -> ImageRef:
    """Parse a reference the user gave, turning a bad one into exit 2 naming the input."""
    try:
        ref = parse_reference(text)
    except InvalidReference as exc:
        raise BadInput(f"{what} {_shown(text)}: {exc}") from None
    if ref.tag is None and ref.digest is None:
        raise BadInput(f"{what} {_shown(text)}: give a tag, a digest or both (repo:tag@sha256:…)")
    return ref


def _shown(text: str) -> str:
    clean = text.replace("\n", "\\n").replace("\r", "\\r")
    return repr(clean if len(clean) <= 120 else clean[:120] + "…")
