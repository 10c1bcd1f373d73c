"""Secret redaction: the one place that knows how to hide a secret in text.

The emitters (GitHub, GitLab, the terminal, the JSON report), git's and the forges' error
messages (promote) and MLflow's (registry) all hide secrets with these functions, so a rule
added here (a new token format, a URL form) protects every message at once; a writer with its
own copy would be the one that leaks. It sits on the bottom floor so a concern package never
has to import the emitters to stay quiet about a token.

Which values are secret stays with whoever knows: a command declares its own, the emitter
adds the secret-named environment variables (env_secrets), MLflow's registry adds the
credentials MLflow itself sends.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

REDACTED = "***"

# Credentials written into a URL (https://user:password@host) are secrets even when nobody
# declared them: git remotes and tracking URIs are often built this way.
# re.ASCII: with Unicode \s a U+00A0 in the password, or a letter like "é" glued before the
# scheme (Unicode \b), stopped the match and left the password in clear.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*):[^/\s@]+@", re.ASCII)
# The whole `user:password@` (or `token@`) of every URL in a text.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@]*@", re.ASCII)
# Token formats GitHub and GitLab document, caught even if a command forgot to declare them.
_KNOWN_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"
    r"|gl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|oas|soat|ffct)-[A-Za-z0-9_\-]{20,})",
    re.ASCII,  # an ASCII \b: with Unicode's, "éghp_…" (a letter glued before it) hid a token
)
# Environment variables whose values are secrets by their name (GITHUB_TOKEN, CI_JOB_TOKEN,
# MLFLOW_TRACKING_PASSWORD, AWS_SECRET_ACCESS_KEY, ...). Names that point at a secret instead
# of holding it (..._FILE, ..._ENV, ..._NAME) are left alone so a path or a variable name is
# not hidden everywhere it appears.
_SECRET_ENV_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|PRIVATE_KEY|API_?KEY")
_POINTER_ENV_SUFFIX = re.compile(
    r"_(?:FILE|PATH|DIR|URL|URI|ENV|VAR|NAME|ID|USER|USERNAME|TYPE|KIND|HOST)$"
)
_ENV_NAME_LIKE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_MIN_ENV_SECRET = 8
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def secret_fragments(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every string to hide, longest first.

    Each line of a multi-line secret is hidden on its own too, because logs and tables break
    text into lines and a key file would otherwise leak line by line. Longest first so that a
    short secret inside a longer one cannot leave the rest of the longer one visible.
    """
    found: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str) or not secret.strip():
            continue
        found.add(secret)
        found.update(line for line in _LINE_BREAK.split(secret) if line.strip())
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret, in the order given, as ***.

    Give a secret that contains another before it (secret_fragments sorts them so), or the
    longer one's remainder would stay visible. Empty values are skipped.
    """
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def clean_text(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates (from undecodable file names) become '?'."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def redact_text(text: str, fragments: tuple[str, ...]) -> str:
    """`text` with every secret fragment, URL password and known token format as ***."""
    text = mask_secrets(clean_text(text), fragments)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    return _KNOWN_TOKENS.sub(REDACTED, text)


def redact_value(value: Any, fragments: tuple[str, ...]) -> Any:
    """A JSON-shaped value (dicts, lists, strings, numbers) with every string redacted.

    Non-finite floats become None: JSON has no NaN, and a reader choking on it would lose the
    whole report over one undefined metric.
    """
    if isinstance(value, str):
        return redact_text(value, fragments)
    if isinstance(value, dict):
        return {
            redact_text(str(k), fragments): redact_value(v, fragments) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_value(v, fragments) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def env_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of environment variables that hold a secret by their name (GITHUB_TOKEN, ...).

    They are hidden even when a command did not declare them, because an error message from a
    library (an HTTP client echoing a header, a git remote URL) can carry them anywhere.
    """
    found = []
    for name, value in environ.items():
        upper = name.upper()
        if not _SECRET_ENV_NAME.search(upper) or _POINTER_ENV_SUFFIX.search(upper):
            continue
        value = value.strip()
        if len(value) < _MIN_ENV_SECRET or _ENV_NAME_LIKE.match(value):
            continue
        found.append(value)
    return tuple(sorted(set(found)))


def strip_userinfo(text: str) -> str:
    """Remove ``user:password@`` from every URI in ``text`` (messages, tag values)."""
    return _USERINFO.sub(r"\1", text)


def redact_url(url: str) -> str:
    """One URL as it may be shown: without its user name and password, host and port kept."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url
