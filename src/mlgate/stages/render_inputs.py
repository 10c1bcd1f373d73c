"""`mlgate render-analysis`'s inputs turned into its typed config: the one place they are
checked, so a bad SPEC, name, URL or step is exit 2 before anything is written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlgate.errors import BadInput

_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}", re.ASCII)
# a file below serve-analysis's --evidence-dir: relative, no '..' segment
_EVIDENCE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*",
                            re.ASCII)
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/%\[\]-]+", re.ASCII)
FLAGGER_ONLY = (("threshold", "--threshold"), ("step_weights", "--step-weights"),
                ("step_weight", "--step-weight"), ("max_weight", "--max-weight"),
                ("port", "--port"), ("webhooks", "--webhook"))


def render_config(values: Mapping[str, Any]):
    from mlgate.cluster.config import parse_duration
    from mlgate.cluster.names import check_name, check_namespace
    from mlgate.verify.check import parse_queries
    from mlgate.verify.analysis import Limits
    from mlgate.verify.check import parse_check
    from mlgate.verify.render.config import RenderConfig, Server

    target = values["target"]
    if not values["checks"]:
        raise BadInput("--check: give at least one check (or --config mlgate.yaml, whose "
                       "environment has a verify section)")
    queries = parse_queries(values["queries"])
    checks = tuple(parse_check(spec, queries) for spec in values["checks"])
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise BadInput("--check: each check once (" + ", ".join(
            sorted({n for n in names if names.count(n) > 1})) + " given twice)")
    app = values["app"]
    if not app:
        raise BadInput("--app: give the application (the Deployment the canary runs), or "
                       "--config mlgate.yaml")
    name = check_name(values["name"] or app, "--name" if values["name"] else
                      "--app (the default --name)")
    namespace = values["namespace"]
    if namespace:
        check_namespace(namespace, "--namespace")
    baselines, version = {}, values["model_version"]
    if values["evidence"]:
        from mlgate.verify.evidence import read_baselines

        found = read_baselines(values["evidence"])
        baselines, version = found.scores, version or found.model_version
    labels = {k: v for k, v in (("environment", values["environment"]),
                                ("model_version", version)) if v}
    if target == "argo-rollouts":
        for key, option in FLAGGER_ONLY:
            if values[key]:
                raise BadInput(f"{option} is Flagger's; an AnalysisTemplate has count and the "
                               "limits (--count, --failure-limit, ...)")
    server = None
    if values["analysis_url"]:
        server = Server(url=_server_url(values["analysis_url"]),
                        token_secret=_secret_ref(values["token_secret"]),
                        evidence=_evidence_name(values["evidence_name"]),
                        hooks=_hooks(values["webhooks"]),
                        webhook_token=_placeholder(values["webhook_token"]))
    elif values["webhooks"] or values["evidence_name"]:
        option = "--webhook" if values["webhooks"] else "--evidence-name"
        raise BadInput(f"{option}: give --analysis-url too (the serve-analysis it is for)")
    return RenderConfig(
        target=target,
        checks=checks,
        app=app,
        name=name,
        namespace=namespace,
        labels=labels,
        provider=values["provider"],
        prometheus=_prometheus(values["prometheus"]),
        server=server,
        baselines=baselines,
        evidence=values["evidence"],
        limits=Limits(values["count"], values["failure_limit"], values["inconclusive_limit"],
                      values["consecutive_error_limit"]),
        interval=parse_duration(values["interval"], "--interval", minimum=1),
        initial_delay=parse_duration(values["initial_delay"], "--initial-delay"),
        window=(parse_duration(values["window"], "--window", minimum=1)
                if values["window"] else None),
        threshold=values["threshold"],
        steps=_steps(values["step_weights"], values["step_weight"], values["max_weight"]),
        port=values["port"],
        output=values["output"],
        source=values.get("_source") or "--check",
    )


def _prometheus(url: str | None) -> str | None:
    if not url:
        return None
    from mlgate.verify.prometheus import base_url

    found = base_url(url, "--prometheus")
    if not _URL_CHARS.fullmatch(found):
        raise BadInput("--prometheus: the address has characters a URL does not need "
                       "(braces, quotes, spaces); write it percent-encoded")
    return found


def _server_url(url: str) -> str:
    """serve-analysis's base URL: http(s), a host, an optional port and path; no
    credentials (they would sit in git), query or fragment."""
    what = "--analysis-url"
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise BadInput(f"{what}: {text[:80]!r} has no valid host[:port]") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{what}: {text[:80]!r} is not an http:// or https:// URL with a host")
    if "@" in parts.netloc:
        raise BadInput(f"{what}: no user name or password in the URL (the manifests go to git);"
                       " the token comes from --token-secret")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise BadInput(f"{what}: {text[:80]!r} has a query or fragment")
    if not _URL_CHARS.fullmatch(text):
        raise BadInput(f"{what}: {text[:80]!r} has characters a URL does not need (braces, "
                       "quotes, spaces, non-ASCII); write them percent-encoded")
    return text.rstrip("/")


def _secret_ref(text: str) -> tuple[str, str]:
    from mlgate.cluster.names import check_name

    name, colon, key = text.partition(":")
    if not colon or not _SECRET_KEY.fullmatch(key):
        raise BadInput(f"--token-secret {text[:60]!r}: SECRET:KEY (e.g. mlgate-analysis:token)")
    return check_name(name, "--token-secret"), key


def _placeholder(text: str) -> str:
    """Flagger's metadata.token as written: one printable line, and not a token by the look
    of it (a long run of letters and digits), which would then sit in git."""
    what = "--webhook-token"
    if not text or len(text) > 200 or not text.isprintable() or not text.isascii():
        raise BadInput(f"{what}: one line of printable ASCII (a placeholder such as "
                       "${MLGATE_ANALYSIS_TOKEN})")
    if re.fullmatch(r"[A-Za-z0-9+/=_.~-]{16,}", text, re.ASCII):
        raise BadInput(f"{what}: this looks like the token itself; the manifests go to git: "
                       "write a placeholder the deployment fills from a Secret (e.g. "
                       "${MLGATE_ANALYSIS_TOKEN} with Flux's postBuild.substituteFrom)")
    return text


def _evidence_name(text: str | None) -> str | None:
    if text is None:
        return None
    if len(text) > 255 or not _EVIDENCE_NAME.fullmatch(text):
        raise BadInput(f"--evidence-name {text[:60]!r}: a file name below serve-analysis's "
                       "--evidence-dir (letters, digits, '.', '_', '-' and '/'; no '..')")
    return text


def _hooks(given: tuple[str, ...]) -> tuple[str, ...]:
    from mlgate.verify.render.config import DEFAULT_HOOKS

    if not given:
        return DEFAULT_HOOKS
    if len(set(given)) != len(given):
        raise BadInput("--webhook: each type once")
    return tuple(given)


def _steps(weights: str | None, step: int | None, max_weight: int | None):
    from mlgate.verify.render.config import Steps

    if step is not None:
        if weights:
            raise BadInput("--step-weight and --step-weights: give one (a fixed step, or the "
                           "list of steps)")
        if max_weight is not None and max_weight < step:
            raise BadInput(f"--max-weight {max_weight} is below --step-weight {step}")
        return Steps(weights=(), step=step, max_weight=max_weight)
    if max_weight is not None:
        raise BadInput("--max-weight goes with --step-weight (with --step-weights the last "
                       "step is the maximum)")
    if weights is None:
        return Steps()
    parsed = []
    for part in weights.split(","):
        part = part.strip()
        if not re.fullmatch(r"[0-9]{1,3}", part, re.ASCII) or not 1 <= int(part) <= 100:
            raise BadInput(f"--step-weights {weights[:60]!r}: {part[:10]!r} is not a percent "
                           "from 1 to 100 (e.g. 1,5,25)")
        parsed.append(int(part))
    if any(b <= a for a, b in zip(parsed, parsed[1:])):
        raise BadInput(f"--step-weights {weights[:60]!r}: the steps must rise")
    return Steps(weights=tuple(parsed))
