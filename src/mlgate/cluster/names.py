"""Kubernetes object names as the API server validates them (apimachinery's validation.go),
checked before a name goes into a URL path or a message.

A namespace is a DNS-1123 label (at most 63 characters); an object name (an Argo CD
Application or AppProject, a Flux Kustomization, a Deployment, ...) is a DNS-1123 subdomain
(at most 253). Lower-case ASCII only: `re.ASCII` and `fullmatch`, so neither a Unicode digit nor
a trailing newline slips through.
"""

from __future__ import annotations

import re

from mlgate.errors import BadInput
from mlgate.escape import one_line, printable

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL, re.ASCII)
_SUBDOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)


def shown(text: str, limit: int = 80) -> str:
    """Untrusted input as it may appear in a message: one line, control characters escaped,
    cut at `limit` characters."""
    text = printable(one_line(text))
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def is_label(text: str) -> bool:
    return len(text) <= LABEL_MAX and _LABEL_RE.fullmatch(text) is not None


def is_subdomain(text: str) -> bool:
    return len(text) <= SUBDOMAIN_MAX and _SUBDOMAIN_RE.fullmatch(text) is not None


def check_name(text: str, what: str) -> str:
    """An object name (DNS-1123 subdomain), or BadInput naming `what`."""
    if not is_subdomain(text):
        raise BadInput(f"{what}: {shown(text)} is not a Kubernetes object name (lower-case "
                       f"letters, digits, '-' and '.', starting and ending with a letter or "
                       f"digit, at most {SUBDOMAIN_MAX} characters)")
    return text


def check_namespace(text: str, what: str) -> str:
    """A namespace name (DNS-1123 label), or BadInput naming `what`."""
    if not is_label(text):
        raise BadInput(f"{what}: {shown(text)} is not a Kubernetes namespace name (lower-case "
                       f"letters, digits and '-', starting and ending with a letter or digit, "
                       f"at most {LABEL_MAX} characters)")
    return text
