"""The Kubernetes API, as `mlgate wait-sync` reads it: the objects of KINDS, one GET each, and
Flux's reconcile request (the annotation `flux reconcile` sets).

- Configuration is loaded as kubectl does, into a private `kubernetes.client.Configuration`
  (never the process-wide default): `--kubeconfig`, else KUBECONFIG from the environment given
  (a ':'-separated list is merged), else the in-cluster service account when
  KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. Exec plugins and auth providers are the
  client's own.
- The client does not retry by itself (`configuration.retries`: urllib3's Retry with every
  count at 0, Retry-After not followed): urllib3's default would silently retry a throttled GET,
  and wait-sync promises at most one request per resource per interval. 429, 5xx and
  connection errors are retried here (http_retry) until the deadline, then ServiceError (3).
- Answers are the API's JSON as sent (camelCase, timestamps as written), read raw
  (`_preload_content=False`) for custom objects and Deployments alike.
- 401, 403 (the API server's RBAC sentence quoted), 404 (the object, or a resource type not
  served: the controller's CRD is missing) are BadInput (2), naming the object, never a secret.

`kubernetes` is an extra (`mlgate[cluster]`), imported inside the functions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlgate import safe_load
from mlgate.cluster.http_retry import (
    Backoff,
    network_reason,
    retry_after_seconds,
    retryable_status,
)
from mlgate.cluster.names import check_name, check_namespace, shown
from mlgate.errors import BadInput, MlgateError, ServiceError
from mlgate.escape import one_line, printable
from mlgate.redact import env_secrets, redact_text, redact_url, secret_fragments

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.client.exceptions import ApiException

# kind (as wait-sync's options name it) -> (group, version, plural)
KINDS: dict[str, tuple[str, str, str]] = {
    "application": ("argoproj.io", "v1alpha1", "applications"),
    "kustomization": ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
    "helmrelease": ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    "gitrepository": ("source.toolkit.fluxcd.io", "v1", "gitrepositories"),
    "deployment": ("apps", "v1", "deployments"),
    "inferenceservice": ("serving.kserve.io", "v1beta1", "inferenceservices"),
    "rollout": ("argoproj.io", "v1alpha1", "rollouts"),
    "canary": ("flagger.app", "v1beta1", "canaries"),
}
WORKLOAD_KINDS = ("deployment", "inferenceservice", "rollout", "canary")
FLUX_KINDS = ("kustomization", "helmrelease", "gitrepository")
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"  # fluxcd/pkg apis/meta ReconcileRequestAnnotation
EXTRA_MISSING = "wait-sync needs the cluster extra: pip install 'mlgate[cluster]'"
MERGE_PATCH = "application/merge-patch+json"
DETAIL_MAX = 300


# ---------------------------------------------------------------------- references


def parse_ref(text: str, what: str, default_namespace: str | None) -> tuple[str, str]:
    """`NS/NAME` (or `NAME` when a default namespace is given) -> (namespace, name), checked
    by the Kubernetes name rules; BadInput naming the option `what` otherwise."""
    if not isinstance(text, str):
        raise BadInput(f"{what}: give NS/NAME")
    parts = text.split("/")
    if len(parts) == 2:
        namespace, name = parts
    elif len(parts) == 1 and default_namespace is not None:
        namespace, name = default_namespace, parts[0]
    else:
        raise BadInput(f"{what}: {shown(text)} is not NS/NAME")
    return check_namespace(namespace, what), check_name(name, what)


def parse_workload(text: str, default_namespace: str | None = None) -> tuple[str, str, str]:
    """`KIND/NS/NAME` for --workload -> (kind, namespace, name); KIND is one of
    WORKLOAD_KINDS (any case)."""
    what = "--workload"
    if not isinstance(text, str):
        raise BadInput(f"{what}: give KIND/NS/NAME")
    kind, slash, rest = text.partition("/")
    kind = kind.lower() if kind.isascii() else kind
    if not slash or kind not in WORKLOAD_KINDS:
        raise BadInput(f"{what}: {shown(text)} is not KIND/NS/NAME with KIND one of "
                       f"{', '.join(WORKLOAD_KINDS)}")
    namespace, name = parse_ref(rest, what, default_namespace)
    return kind, namespace, name


def rfc3339_now(now_ns: int | None = None) -> str:
    """The time as Go's time.RFC3339Nano writes it in UTC (what `flux reconcile` puts in the
    requestedAt annotation): nanoseconds without trailing zeros, no fraction when whole, Z."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    seconds, nanos = divmod(now_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def _import_kubernetes() -> Any:
    try:
        import kubernetes.client
        import kubernetes.config
    except ImportError:
        raise BadInput(EXTRA_MISSING) from None
    return kubernetes


def _no_retries() -> Any:
    """urllib3's Retry that never retries (and does not sleep for Retry-After)."""
    from urllib3.util.retry import Retry

    return Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0,
                 respect_retry_after_header=False, raise_on_redirect=False,
                 raise_on_status=False)


def _status_body(exc: ApiException) -> dict[str, Any]:
    """The API server's metav1.Status of an error, or {} (a proxy's text, a plain 429)."""
    try:   # the shared loader: strict JSON, bounded depth
        body = safe_load.parse_json(exc.body, "a Kubernetes API error", error=ServiceError) \
            if exc.body else None
    except (MlgateError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def _clip(text: str) -> str:
    text = printable(one_line(text))
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 3] + "..."


# ---------------------------------------------------------------------- the client


class KubeClient:
    """One cluster, one private ApiClient. `calls` counts the requests sent.

    deadline: a time.monotonic() after which no retry starts (None: only `backoff.max_tries`
    bounds the retries); it may be set again between calls. timeout: seconds per request.
    """

    def __init__(self, *, kubeconfig: str | None = None, context: str | None = None,
                 environ: Mapping[str, str], timeout: float = 10.0,
                 deadline: float | None = None, backoff: Backoff | None = None) -> None:
        kubernetes = _import_kubernetes()
        self._environ_secrets = env_secrets(environ)
        configuration = kubernetes.client.Configuration()
        self.source, self.context = self._load(kubernetes, configuration, kubeconfig, context,
                                               environ)
        configuration.retries = _no_retries()
        self.configuration: Configuration = configuration
        self.server = redact_url(str(configuration.host))
        self.api_client: ApiClient = kubernetes.client.ApiClient(configuration)
        self._custom = kubernetes.client.CustomObjectsApi(self.api_client)
        self._apps = kubernetes.client.AppsV1Api(self.api_client)
        self.timeout = timeout
        self.deadline = deadline
        self.backoff = backoff or Backoff()
        self.calls = 0

    # ------------------------------------------------------------------ loading

    def _load(self, kubernetes: Any, configuration: Configuration, kubeconfig: str | None,
              context: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
        """Fill `configuration` as kubectl would; returns (where it came from, context)."""
        from kubernetes.config import incluster_config

        if kubeconfig:
            path, source = kubeconfig, "--kubeconfig"
        elif environ.get("KUBECONFIG"):
            path, source = environ["KUBECONFIG"], "KUBECONFIG"
        elif environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            loader = incluster_config.InClusterConfigLoader(
                token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
                cert_filename=incluster_config.SERVICE_CERT_FILENAME, environ=environ)
            try:
                loader.load_and_set(configuration)
            except kubernetes.config.ConfigException as exc:
                raise BadInput(self._scrub(f"in-cluster service account (KUBERNETES_SERVICE_HOST "
                                           f"is set): {_clip(str(exc))}")) from None
            return "the in-cluster service account", "in-cluster"
        else:
            home = environ.get("HOME") or os.path.expanduser("~")
            path, source = os.path.join(home, ".kube", "config"), "~/.kube/config"
        paths = [p for p in path.split(os.pathsep) if p]
        if not any(os.path.isfile(os.path.expanduser(p)) for p in paths):
            raise BadInput(f"{source}: no kubeconfig file at {shown(path, 200)}; give "
                           f"--kubeconfig or KUBECONFIG")
        import yaml

        try:
            contexts, active = kubernetes.config.list_kube_config_contexts(config_file=path)
            kubernetes.config.load_kube_config(config_file=path, context=context,
                                               client_configuration=configuration,
                                               persist_config=False)
        except (kubernetes.config.ConfigException, yaml.YAMLError, OSError, ValueError,
                KeyError, TypeError, AttributeError) as exc:
            where = f" (context {shown(context)})" if context else ""
            raise BadInput(self._scrub(f"{source} {shown(path, 200)}{where}: cannot load the "
                                       f"kubeconfig: {_clip(str(exc) or type(exc).__name__)}")
                           ) from None
        name = context or (active or {}).get("name") or "?"
        return f"{source} {path}", str(name)

    # ------------------------------------------------------------------ public

    def get(self, kind: str, namespace: str, name: str, *,
            deadline: float | None = None) -> dict[str, Any]:
        """The object as the API server sends it (a plain dict, camelCase keys)."""
        group, version, plural = self._kind(kind)
        check_namespace(namespace, kind)
        check_name(name, kind)
        if kind == "deployment":
            def call(timeout: tuple[float, float]) -> Any:
                return self._apps.read_namespaced_deployment(
                    name, namespace, _preload_content=False, _request_timeout=timeout)
        else:
            def call(timeout: tuple[float, float]) -> Any:
                return self._custom.get_namespaced_custom_object(
                    group, version, namespace, plural, name, _preload_content=False,
                    _request_timeout=timeout)
        raw = self._call(call, "get", kind, namespace, name, deadline)
        try:
            body = safe_load.parse_json(raw, f"{kind} {namespace}/{name}", error=ServiceError)
        except MlgateError:
            body = None
        if not isinstance(body, dict):
            raise ServiceError(f"the Kubernetes API at {self.server} answered {kind} "
                               f"{namespace}/{name} with something that is not a JSON object")
        return body

    def request_reconcile(self, kind: str, namespace: str, name: str, at: str, *,
                          deadline: float | None = None) -> None:
        """Ask Flux to reconcile now, as `flux reconcile` does: the annotation
        reconcile.fluxcd.io/requestedAt = `at` (rfc3339_now()), by a merge patch of metadata
        only (the generation does not move). The controller answers by setting
        status.lastHandledReconcileAt to the same value."""
        if kind not in FLUX_KINDS:
            raise BadInput(f"a reconcile request is for Flux objects ({', '.join(FLUX_KINDS)}), "
                           f"not {shown(kind)}")
        group, version, plural = self._kind(kind)
        check_namespace(namespace, kind)
        check_name(name, kind)
        body = {"metadata": {"annotations": {REQUESTED_AT: str(at)}}}

        def call(timeout: tuple[float, float]) -> Any:
            return self._custom.patch_namespaced_custom_object(
                group, version, namespace, plural, name, body, _content_type=MERGE_PATCH,
                _preload_content=False, _request_timeout=timeout)

        self._call(call, "patch", kind, namespace, name, deadline)

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _kind(kind: str) -> tuple[str, str, str]:
        if kind not in KINDS:
            raise BadInput(f"unknown kind {shown(kind)}; one of {', '.join(KINDS)}")
        return KINDS[kind]

    def _call(self, call: Callable[[tuple[float, float]], Any], verb: str, kind: str,
              namespace: str, name: str, deadline: float | None) -> bytes:
        """One request per try, counted; the body of the 2xx answer."""
        import urllib3
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config import ConfigException

        deadline = self.deadline if deadline is None else deadline
        failures = 0
        while True:
            timeout = self.backoff.timeout(self.timeout, deadline)
            self.calls += 1
            try:
                response = call((timeout, timeout))
                try:
                    return bytes(response.data)
                finally:
                    response.release_conn()
            except ApiException as exc:
                status = exc.status or 0
                if not retryable_status(status):
                    raise self._refusal(exc, verb, kind, namespace, name) from None
                failures += 1
                self.backoff.pause(failures, self._retry_after(exc), deadline, self._scrub(
                    f"the Kubernetes API at {self.server} unreachable: HTTP {status} "
                    f"{self._message(exc)} (reading {kind} {namespace}/{name})"))
            except urllib3.exceptions.HTTPError as exc:
                failures += 1
                self.backoff.pause(failures, None, deadline, self._scrub(
                    f"the Kubernetes API at {self.server} unreachable: {network_reason(exc)}"))
            except ConfigException as exc:  # an exec plugin or token refresh that failed
                raise BadInput(self._scrub(f"{self.source} (context {self.context}): the "
                                           f"credentials could not be refreshed: "
                                           f"{_clip(str(exc))}")) from None

    @staticmethod
    def _retry_after(exc: ApiException) -> float | None:
        """Retry-After (seconds), else the Status's details.retryAfterSeconds."""
        headers = exc.headers or {}
        seconds = retry_after_seconds(headers.get("Retry-After"))
        if seconds is None:
            value = (_status_body(exc).get("details") or {}).get("retryAfterSeconds")
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3600:
                seconds = float(value)
        return seconds

    @staticmethod
    def _message(exc: ApiException) -> str:
        message = _status_body(exc).get("message")
        if not isinstance(message, str) or not message:
            message = (exc.body if isinstance(exc.body, str) else "") or str(exc.reason or "")
        return _clip(message) or "no details"

    def _refusal(self, exc: ApiException, verb: str, kind: str, namespace: str,
                 name: str) -> MlgateError:
        status = exc.status or 0
        message = self._message(exc)
        group, version, plural = KINDS[kind]
        what = f"{kind} {namespace}/{name}"
        if status == 0:  # the client's own wrapping of a TLS failure
            return ServiceError(self._scrub(
                f"the Kubernetes API at {self.server}: the TLS connection failed ({message}); "
                f"check the cluster's certificate-authority in {self.source}"))
        if status == 401:
            text = (f"the Kubernetes API at {self.server} rejected the credentials of context "
                    f"{self.context} from {self.source} (HTTP 401 {message}); check that its "
                    f"user (token, client certificate or exec plugin) is valid and unexpired")
        elif status == 403:
            text = (f"the Kubernetes API at {self.server} refused to {verb} {what}: {message}; "
                    f"the credentials of context {self.context} need RBAC `{verb}` on "
                    f"{plural}.{group} in namespace {namespace}")
        elif status == 404 and (_status_body(exc).get("details") or {}).get("name"):
            text = f"{what} not found ({message})"
        elif status == 404:
            text = (f"{what}: is the controller installed? ({group}/{version} {plural} not "
                    f"served by the Kubernetes API at {self.server}: {message})")
        else:
            text = (f"the Kubernetes API at {self.server} refused to {verb} {what} (HTTP "
                    f"{status}): {message}")
        return BadInput(self._scrub(text))

    def _scrub(self, text: str) -> str:
        """No message leaves with a credential in it (the token, an environment secret)."""
        secrets = list(self._environ_secrets)
        configuration = getattr(self, "configuration", None)
        if configuration is not None:
            for value in list((configuration.api_key or {}).values()) + [configuration.password]:
                if isinstance(value, str):
                    secrets += [value, value.split(" ", 1)[-1]]
        return redact_text(text, secret_fragments(secrets))

