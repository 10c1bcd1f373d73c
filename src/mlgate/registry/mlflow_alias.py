"""Move an MLflow registered-model alias as part of a promotion, and move it back on rollback.

Why it is shaped this way:

- The alias is the *last* thing written. Tags are written before it, so a failure part-way
  leaves the alias where it was (what serves ``models:/name@alias`` is unchanged) and a re-run
  finishes the job: both functions are idempotent.
- MLflow has no compare-and-set for aliases. ``restore_alias`` re-reads the alias and refuses
  (exit 1) when it no longer points where the promotion left it, so a rollback never clobbers
  a newer promotion; ``move_alias`` reports what it replaced so the caller can record it, and
  with ``only_from`` refuses the same way when the alias is not where the promotion found it
  (a move that waited for verify must not clobber a move someone made meanwhile).
- A version tag can say more than the alias: ``mlgate.verified.<environment>`` names the config
  commit whose live model was verified (``version_tag`` reads one back), so a move that waited
  for verify can be told from one still waiting.
- MLflow retries HTTP calls for ~4 minutes by default and reads its retry settings from the
  environment on every request. While one of these functions runs, any of
  ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``_BACKOFF_FACTOR`` / ``_TIMEOUT`` that the caller has
  not set gets mlgate's bounded default (``HTTP_RETRY_DEFAULTS``: 3 retries, backoff 0 s, 2 s,
  4 s plus jitter, 30 s per request), and is removed again afterwards; values the operator has
  set are used as they are. This touches ``os.environ``, so it is not thread-safe (the CLI runs
  one registry call at a time).
- Every failure becomes one ``mlgate.errors`` exception with a one-line message: a missing
  model or version or an invalid name -> ``BadInput`` (2), the alias moved by someone else ->
  ``GateFailed`` (1), anything from the service (unreachable, 5xx after retries, 401/403) ->
  ``ServiceError`` (3). Messages never carry credentials: user-info is stripped from every URI
  and the token/password values MLflow would send are masked, and the original exception is
  not chained (its text may hold the full URL).
- With no tracking URI given and none in ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``,
  MLflow would silently create ``./mlflow.db`` and "promote" in it; that is refused instead.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from mlgate.errors import BadInput, GateFailed, MlgateError, ServiceError
from mlgate.redact import mask_secrets, strip_userinfo
from mlgate.registry.result import AliasMove

__all__ = [
    "HTTP_RETRY_DEFAULTS",
    "TAG_CONFIG_COMMIT",
    "TAG_CONFIG_REPO",
    "TAG_PROMOTED_ALIAS",
    "TAG_VERIFIED_PREFIX",
    "current_version",
    "move_alias",
    "restore_alias",
    "version_tag",
]

TAG_CONFIG_COMMIT = "mlgate.config_commit"
TAG_CONFIG_REPO = "mlgate.config_repo"
TAG_PROMOTED_ALIAS = "mlgate.promoted_alias"
TAG_VERIFIED_PREFIX = "mlgate.verified."  # + environment: the config commit verified live there
_PROMOTION_TAGS = (TAG_CONFIG_COMMIT, TAG_CONFIG_REPO, TAG_PROMOTED_ALIAS)

#: Applied only for the duration of one call, and only where the environment has no value.
HTTP_RETRY_DEFAULTS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

# Environment variables whose values MLflow sends as credentials; masked in every message.
_SECRET_ENV = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "DATABRICKS_TOKEN")

# MLflow's own alias rules (mlflow.utils.validation), checked here so a bad alias fails with
# exit 2 before any network call -- but ASCII only: MLflow's Unicode `\w` would take "chаmpion"
# (a Cyrillic "а") as a different alias that reads the same. All are used with fullmatch (`$`
# also matches before a trailing newline).
_ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,255}", re.ASCII)
_RESERVED_ALIAS_RE = re.compile(r"latest|[vV][0-9]+", re.IGNORECASE | re.ASCII)
_VERSION_RE = re.compile(r"[0-9]{1,18}", re.ASCII)
# scheme://user:password@  -> scheme://   (greedy to the last '@' before the path)
_MAX_DETAIL = 400

_T = TypeVar("_T")


def move_alias(
    model: str,
    alias: str,
    version: str,
    *,
    commit: str | None,
    config_repo: str | None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    only_from: tuple[str | None, ...] | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> AliasMove:
    """Point ``model@alias`` at ``version`` and tag that version with the promotion.

    Tags ``mlgate.config_commit`` / ``mlgate.config_repo`` (when given; user-info stripped from
    the repo URL), ``mlgate.promoted_alias`` and any ``extra_tags`` are written first, then the
    alias. Re-running with the alias already on ``version`` re-writes the tags and returns
    ``changed=False`` (and ``previous_version == version``: record the previous version from
    the first run, or read it with ``current_version`` before promoting).

    With ``only_from``, the alias must now point at one of those versions (None: the alias is
    absent) or already at ``version``; anywhere else someone moved it since the promotion
    recorded it: ``GateFailed``, nothing written.
    """
    model = _check_model(model)
    alias = _check_alias(alias)
    version = _check_version(version, "version")
    allowed = None if only_from is None else {
        None if v is None else _check_version(v, "expected version") for v in only_from}
    tags = _promotion_tags(alias, commit, config_repo)
    for key, value in (extra_tags or {}).items():
        tags[_one_line(key, "MLflow tag name")] = _one_line(value, f"MLflow tag {key!r}")
    with _bounded_http_retries():
        reg = _Registry(tracking_uri, registry_uri)
        reg.call(
            f"reading {model} version {version}",
            reg.client.get_model_version,
            model,
            version,
            not_found=lambda: BadInput(
                f"MLflow model {model!r} version {version} not found in the registry at {reg.where}"
            ),
        )
        previous = reg.alias_target(model, alias)
        if allowed is not None and previous != version and previous not in allowed:
            where = f"version {previous}" if previous is not None else "no version (deleted)"
            expected = " or ".join(sorted("no version" if v is None else f"version {v}"
                                          for v in allowed))
            raise GateFailed(
                f"MLflow alias {model}@{alias} now points to {where}, not {expected} where the "
                f"promotion found it: moved since, not moving it to version {version}"
            )
        for key, value in tags.items():
            reg.call(
                f"tagging {model} version {version}",
                reg.client.set_model_version_tag,
                model,
                version,
                key,
                value,
            )
        if previous != version:
            reg.call(
                f"setting alias {alias!r} of {model} to version {version}",
                reg.client.set_registered_model_alias,
                model,
                alias,
                version,
            )
    return AliasMove(model, alias, previous, version, changed=previous != version)


def restore_alias(
    model: str,
    alias: str,
    previous_version: str | None,
    *,
    expected_current: str | None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    commit: str | None = None,
    config_repo: str | None = None,
) -> AliasMove:
    """Put ``model@alias`` back on ``previous_version``; delete the alias when that is None.

    With ``expected_current`` (the version the promotion moved the alias to), an alias that now
    points elsewhere, or no longer exists, means someone moved it since: ``GateFailed``, nothing
    written. An alias already on ``previous_version`` is a re-run: ``changed=False``.

    Undoing the tags too: the version being demoted loses the ``mlgate.*`` promotion tags when
    they are for this alias; the restored version gets ``mlgate.promoted_alias`` and, when
    ``commit`` / ``config_repo`` are given (the rollback commit), those tags as well.
    """
    model = _check_model(model)
    alias = _check_alias(alias)
    if previous_version is not None:
        previous_version = _check_version(previous_version, "previous version")
    if expected_current is not None:
        expected_current = _check_version(expected_current, "expected current version")
    with _bounded_http_retries():
        reg = _Registry(tracking_uri, registry_uri)
        current = reg.alias_target(model, alias)
        if current == previous_version:
            return AliasMove(model, alias, current, previous_version, changed=False)
        if expected_current is not None and current != expected_current:
            where = f"version {current}" if current is not None else "no version (deleted)"
            raise GateFailed(
                f"MLflow alias {model}@{alias} now points to {where}, not version "
                f"{expected_current} where the promotion left it: moved since, not restoring"
            )
        if previous_version is not None:
            target = previous_version
            reg.call(
                f"reading {model} version {target}",
                reg.client.get_model_version,
                model,
                target,
                not_found=lambda: BadInput(
                    f"MLflow model {model!r} version {target} (to restore {alias!r} to) not "
                    f"found in the registry at {reg.where}"
                ),
            )
        if current is not None:
            _untag_demoted(reg, model, alias, current)
        if previous_version is not None:
            for key, value in _promotion_tags(alias, commit, config_repo).items():
                reg.call(
                    f"tagging {model} version {previous_version}",
                    reg.client.set_model_version_tag,
                    model,
                    previous_version,
                    key,
                    value,
                )
            reg.call(
                f"setting alias {alias!r} of {model} back to version {previous_version}",
                reg.client.set_registered_model_alias,
                model,
                alias,
                previous_version,
            )
        else:
            reg.call(
                f"deleting alias {alias!r} of {model}",
                reg.client.delete_registered_model_alias,
                model,
                alias,
            )
    return AliasMove(model, alias, current, previous_version, changed=True)


def current_version(
    model: str,
    alias: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str | None:
    """The version ``model@alias`` points to now, or None; read-only.

    A promotion reads this *before* it lands its commit, so the commit can record the version
    a rollback should restore (a re-run of ``move_alias`` can no longer tell).
    """
    model = _check_model(model)
    alias = _check_alias(alias)
    with _bounded_http_retries():
        return _Registry(tracking_uri, registry_uri).alias_target(model, alias)


def version_tag(
    model: str,
    version: str,
    key: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str | None:
    """The value of tag ``key`` on ``model`` version ``version``, or None; read-only.

    A version missing from the registry carries no tag: None, not an error (a recorded version
    that was deleted is simply not verified). A missing registered model is ``BadInput``, as
    everywhere here.
    """
    model = _check_model(model)
    version = _check_version(version, "version")
    with _bounded_http_retries():
        reg = _Registry(tracking_uri, registry_uri)
        reg.registered(model)  # a missing model is an error, a missing version is not
        try:
            found = reg.call(
                f"reading {model} version {version}",
                reg.client.get_model_version,
                model,
                version,
                not_found=_NoSuchVersion,
            )
        except _NoSuchVersion:
            return None
    value = (getattr(found, "tags", None) or {}).get(key)
    return None if value is None else str(value)


# --------------------------------------------------------------------------- internals


class _NoSuchVersion(BadInput):
    """A version the registry does not have, where that only means "no tag"."""

    def __init__(self) -> None:
        super().__init__("no such model version")


class _Registry:
    """One MlflowClient plus what is needed to turn its failures into mlgate errors."""

    def __init__(self, tracking_uri: str | None, registry_uri: str | None) -> None:
        tracking_uri = tracking_uri or None
        registry_uri = registry_uri or tracking_uri
        env_uri = os.environ.get("MLFLOW_REGISTRY_URI") or os.environ.get("MLFLOW_TRACKING_URI")
        if registry_uri is None and not env_uri:
            raise BadInput(
                "no MLflow tracking URI: pass one (--tracking-uri) or set MLFLOW_TRACKING_URI"
            )
        shown = registry_uri or env_uri or ""
        self.secrets = _secrets_of(tracking_uri, registry_uri, env_uri)
        self.where = self.redact(shown)
        import mlflow  # heavy: only when a registry command actually runs

        try:
            self.client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        except Exception as exc:  # noqa: BLE001 - bad scheme, malformed URI, missing plugin
            raise BadInput(
                f"MLflow tracking URI {self.where} cannot be used: {self.detail(exc)}"
            ) from None

    def call(
        self,
        action: str,
        fn: Callable[..., _T],
        *args: Any,
        not_found: Callable[[], MlgateError] | None = None,
    ) -> _T:
        """Run one MLflow client call; any failure comes out as an mlgate error."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - MlflowException, requests, sqlalchemy alike
            error = self.translate(exc, action, not_found)
        raise error  # outside the except block: no chained original (it may hold a URL)

    def registered(self, model: str) -> Any:
        return self.call(
            f"reading registered model {model}",
            self.client.get_registered_model,
            model,
            not_found=lambda: BadInput(
                f"MLflow registered model {model!r} not found in the registry at {self.where}"
            ),
        )

    def alias_target(self, model: str, alias: str) -> str | None:
        """Read the alias through the registered model: a missing alias is not an error there
        (``get_model_version_by_alias`` reports it with the same code as a bad request)."""
        aliases = getattr(self.registered(model), "aliases", None) or {}
        target = aliases.get(alias)
        return None if target is None else str(target)

    def translate(
        self, exc: BaseException, action: str, not_found: Callable[[], MlgateError] | None
    ) -> MlgateError:
        code = str(getattr(exc, "error_code", "") or "")
        detail = self.detail(exc)
        if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            if not_found is not None:
                return not_found()
            return BadInput(f"MLflow registry at {self.where}: {action}: {detail}")
        if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_ALREADY_EXISTS"):
            return BadInput(f"MLflow registry at {self.where} rejected {action}: {detail}")
        if code in ("UNAUTHENTICATED", "PERMISSION_DENIED", "CUSTOMER_UNAUTHORIZED"):
            return ServiceError(
                f"MLflow registry at {self.where} refused {action} (credentials missing or "
                f"without rights): {detail}"
            )
        return ServiceError(f"MLflow registry at {self.where} failed {action}: {detail}")

    def detail(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        text = self.redact(text)
        if len(text) > _MAX_DETAIL:
            text = text[: _MAX_DETAIL - 3] + "..."
        return text

    def redact(self, text: str) -> str:
        return mask_secrets(strip_userinfo(text), self.secrets)


def _secrets_of(*uris: str | None) -> tuple[str, ...]:
    """Every credential value MLflow may send, as sent: token, password, Basic-auth blob."""
    found: set[str] = set()
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value:
            found.add(value)
    pairs = [
        (os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD"))
    ]
    for uri in uris:
        if not uri:
            continue
        try:
            parts = urlsplit(uri)
            pairs.append((parts.username, parts.password))
        except ValueError:
            continue
    for user, password in pairs:
        if not password:
            continue
        found.update({password, unquote(password)})
        for name, secret in ((user or "", password), (unquote(user or ""), unquote(password))):
            found.add(base64.b64encode(f"{name}:{secret}".encode()).decode("ascii"))
    # Longest first, so a secret containing another is masked whole.
    return tuple(sorted(found, key=len, reverse=True))


def _untag_demoted(reg: _Registry, model: str, alias: str, version: str) -> None:
    """Remove the promotion tags from the version losing the alias, if they are for it."""
    demoted = reg.call(
        f"reading {model} version {version}", reg.client.get_model_version, model, version
    )
    tags = getattr(demoted, "tags", None) or {}
    if tags.get(TAG_PROMOTED_ALIAS) != alias:
        return
    for key in _PROMOTION_TAGS:
        if key in tags:
            reg.call(
                f"untagging {model} version {version}",
                reg.client.delete_model_version_tag,
                model,
                version,
                key,
            )


def _promotion_tags(alias: str, commit: str | None, config_repo: str | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    if commit:
        tags[TAG_CONFIG_COMMIT] = _one_line(commit, "config commit")
    if config_repo:
        tags[TAG_CONFIG_REPO] = strip_userinfo(_one_line(config_repo, "config repo"))
    tags[TAG_PROMOTED_ALIAS] = alias
    return tags


@contextlib.contextmanager
def _bounded_http_retries() -> Iterator[None]:
    added = [key for key in HTTP_RETRY_DEFAULTS if key not in os.environ]
    for key in added:
        os.environ[key] = HTTP_RETRY_DEFAULTS[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _check_model(model: str) -> str:
    if not isinstance(model, str) or not model.strip() or "\n" in model or "\r" in model:
        raise BadInput(f"MLflow registered model name {model!r} is empty or not one line")
    return model


def _check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        raise BadInput(f"MLflow alias {ascii(alias)} is invalid: use 1-255 ASCII letters, "
                       "digits, '_' or '-'")
    if _RESERVED_ALIAS_RE.fullmatch(alias):
        raise BadInput(f"MLflow alias {alias!r} is reserved ('latest' and 'v<N>' are)")
    return alias


def _check_version(version: str | int, what: str) -> str:
    text = str(version).strip() if isinstance(version, (str, int)) else ""
    if isinstance(version, bool) or not _VERSION_RE.fullmatch(text):
        raise BadInput(f"MLflow model {what} {version!r} is not a version number like 3")
    return str(int(text))


def _one_line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise BadInput(f"{what} for the MLflow tag is not one line")
    return value
