"""OCI image references, parsed and normalised the way Docker does.

`nginx`, `docker.io/library/nginx` and `index.docker.io/library/nginx` name one repository, so
a promotion of any spelling must find all of them, while the manifest keeps its own spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlgate.errors import BadInput

# The grammar of distribution/reference (regexp.go), which Docker, containerd and Kubernetes
# parse with, transcribed with ASCII classes only. Go's `\w` and `[[:xdigit:]]` are ASCII; Python's
# `\w` is Unicode, so `[\w]` would let a Cyrillic "е" into a tag that reads as Latin. Every pattern
# is compiled with re.ASCII and used with fullmatch (`$` also matches before a trailing newline).
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"  # no zone identifiers, no IPv4-mapped forms
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# The grammar's digest; reference.Parse then hands it to go-digest, which accepts only a known
# algorithm with its exact lowercase-hex length. Of those, the OCI image spec registers sha256 and
# sha512, so both are accepted (a sha512-pinned image is valid and refusing it would block a real
# release); anything else the grammar lets through a registry would reject.
_DIGEST_GRAMMAR = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
_DIGEST = "|".join(f"{alg}:[a-f0-9]{{{n}}}" for alg, n in DIGEST_LENGTHS.items())
_HEX_IDENTIFIER = r"[a-f0-9]{64}"

_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT, re.ASCII)
TAG_RE = re.compile(_TAG, re.ASCII)
DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_DIGEST_GRAMMAR_RE = re.compile(_DIGEST_GRAMMAR, re.ASCII)
_HEX_IDENTIFIER_RE = re.compile(_HEX_IDENTIFIER, re.ASCII)

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
    """Split 'host/path' into (domain, path) using Docker's rule for what counts as a host.

    The host is what splitDockerDomain picks (a first component with '.' or ':', 'localhost', or
    an uppercase letter), and it must then be a valid host: Docker's Parse would re-read an
    invalid one such as 'a_b.c' as a path component, a name no registry can serve.
    """
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
    """Check a repository name (no tag or digest) against the grammar, part by part."""
    if not name:
        raise InvalidReference("the repository name is empty")
    domain, path = split_name(name)
    if domain is not None and not _DOMAIN_RE.fullmatch(domain):
        raise InvalidReference(
            f"invalid registry {domain!r}: a host name (letters, digits, '-', '.'), or an IPv6 "
            "address in brackets, with an optional :port"
        )
    if not path:
        raise InvalidReference("the repository path is empty")
    for component in path.split("/"):
        if not _PATH_COMPONENT_RE.fullmatch(component):
            raise InvalidReference(
                f"invalid repository path component {component!r} in {path!r}: lowercase letters "
                "and digits, separated by '.', '_', '__' or dashes"
            )
    if len(normalize_name(name)) > MAX_NAME_LENGTH:
        raise InvalidReference(f"the repository name is longer than {MAX_NAME_LENGTH} characters")


def validate_tag(tag: str) -> None:
    if not TAG_RE.fullmatch(tag):
        shown = tag if len(tag) <= 40 else tag[:40] + "…"
        raise InvalidReference(
            f"invalid tag {shown!r}: a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -"
        )


def validate_digest(digest: str) -> None:
    if DIGEST_RE.fullmatch(digest):
        return
    shown = digest[:80]
    if _DIGEST_GRAMMAR_RE.fullmatch(digest):
        raise InvalidReference(
            f"invalid digest {shown!r}: expected sha256: and 64 or sha512: and 128 lowercase "
            "hex digits"
        )
    raise InvalidReference(f"invalid digest {shown!r}: expected ALGORITHM:HEX, e.g. sha256: and 64 "
                           "lowercase hex digits")


def _check_characters(text: str) -> None:
    """ASCII only, no whitespace or control characters: named by code point, so a homoglyph
    (a Cyrillic "е" in a tag that reads as Latin) is visible in the message."""
    for position, char in enumerate(text):
        if not char.isascii():
            raise InvalidReference(
                f"non-ASCII character U+{ord(char):04X} at position {position}: image references "
                "are ASCII only"
            )
        if not char.isprintable() or char.isspace():
            raise InvalidReference(
                f"whitespace or control character U+{ord(char):04X} at position {position} is not "
                "allowed in an image reference"
            )


def parse_reference(text: str) -> ImageRef:
    """Parse 'name[:tag][@digest]' strictly; raises InvalidReference with the reason.

    The one parser of image references: manifests, --image, mlgate.yaml and scan targets all
    come here, so the grammar is enforced in one place.
    """
    if not isinstance(text, str) or not text:
        raise InvalidReference("the image reference is empty")
    _check_characters(text)
    if _HEX_IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference("a 64-digit hexadecimal string is an image ID, not a repository "
                               "name")
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


def parse_user_reference(text: str, what: str, *, need_version: bool = True) -> ImageRef:
    """Parse a reference the user gave, turning a bad one into exit 2 naming the input.

    need_version=False takes a bare repository name too (a scan target, the repository to copy
    with --from-environment, a Trivy DB repository).
    """
    try:
        ref = parse_reference(text)
    except InvalidReference as exc:
        raise BadInput(f"{what} {_shown(text)}: {exc}") from None
    if need_version and ref.tag is None and ref.digest is None:
        raise BadInput(f"{what} {_shown(text)}: give a tag, a digest or both (repo:tag@sha256:…)")
    return ref


def _shown(text: str) -> str:
    """The input as one ASCII line: escapes make a homoglyph or a newline visible."""
    clean = text if len(text) <= 120 else text[:120] + "…"
    return ascii(clean)
