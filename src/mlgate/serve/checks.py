"""One round of checks for one request: the checks it names resolved, their queries filled,
each measured once through Prometheus and judged, by verify's own code.

verify takes `count` measurements and applies the AnalysisRun limits itself; here the caller
is the controller that counts (Flagger's `threshold`, an AnalysisRun's `failureLimit`), so a
request is exactly one measurement per check: `parse_check` reads the SPEC, `promql.fill`
fills the query, `PrometheusClient` reads it, `measure.take` judges it with `analysis.judge`,
and a max-drop is turned into a floor from the benchmark evidence by `evidence.drop_floor`.
Everything a request got wrong is a BadInput before Prometheus is asked anything.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlgate.errors import BadInput, MlgateError
from mlgate.verify.analysis import reason, run_phase
from mlgate.verify.check import Check
from mlgate.verify.config import PrometheusAccess
from mlgate.verify.evidence import Baselines
from mlgate.verify.result import MeasurementPhase

# the request's words for the labels a query may use (Flagger's metadata keys, the web
# provider's query parameters)
LABEL_KEYS = {"app": "app", "environment": "environment", "namespace": "namespace",
              "model_version": "model-version"}
_EVIDENCE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*",
                            re.ASCII)
EVIDENCE_CACHE = 256


@dataclass(frozen=True)
class CheckAnswer:
    name: str
    query: str                 # as sent to Prometheus
    phase: MeasurementPhase
    value: float | None
    min: float | None          # max-drop already turned into a min
    max: float | None
    unit: str
    baseline: float | None     # max-drop: the candidate's score in the evidence
    time: str                  # RFC 3339 UTC, when it was measured
    message: str               # why it failed, had no value or could not be taken


@dataclass(frozen=True)
class Round:
    phase: MeasurementPhase    # the worst of the checks': Failed, Error, Inconclusive
    checks: tuple[CheckAnswer, ...]
    message: str               # the first check in that phase's reason, or "N checks passed"


def resolve(specs: Sequence[str], known: Mapping[str, Check], queries: Mapping[str, str],
            what: str) -> tuple[Check, ...]:
    """The checks a request names: a check the server defines (by name) or a built-in SPEC.
    A SPEC with PromQL of its own is refused: queries are the server's to define."""
    from mlgate.serve.config import MAX_CHECKS
    from mlgate.verify.check import BUILTIN_QUERIES, parse_check

    texts = [s.strip() for s in specs if s.strip()]
    if not texts:
        raise BadInput(f"{what}: no check named (e.g. error-rate:max=1%, one per line)")
    if len(texts) > MAX_CHECKS:
        raise BadInput(f"{what}: {len(texts)} checks; at most {MAX_CHECKS} per request")
    out: list[Check] = []
    for text in texts:
        if text in known:
            check = known[text]
        else:
            try:
                check = parse_check(text, dict(queries))
            except BadInput as exc:
                raise BadInput(f"{what}: {exc}") from None
            if check.builtin and check.query != (queries.get(check.name)
                                                 or BUILTIN_QUERIES[check.name]):
                raise BadInput(f"{what}: {text[:60]!r} gives a query= of its own; a request "
                               "names checks, the server defines their queries (--check, "
                               "--query)")
            if not check.builtin:
                defined = ", ".join(sorted(known)) or "none"
                raise BadInput(f"{what}: {check.name!r} is not a check this server defines "
                               f"({defined}); a request names a built-in SPEC or one of the "
                               "server's --check names, never PromQL of its own")
            if check.kube:
                raise BadInput(f"{what}: replicas-unavailable reads the Kubernetes API; "
                               "serve-analysis reads only Prometheus")
        if any(c.name == check.name for c in out):
            raise BadInput(f"{what}: {check.name} named twice")
        out.append(check)
    return tuple(out)


class EvidenceShelf:
    """The benchmark evidence a request may name: files below one directory (a mounted
    ConfigMap or volume), read through verify's read_baselines and kept while unchanged."""

    def __init__(self, directory: str | None) -> None:
        self.directory = os.path.realpath(directory) if directory else None
        self._cache: dict[str, tuple[tuple[int, int, int], Baselines]] = {}
        self._lock = threading.Lock()

    def baselines(self, name: str, what: str) -> Baselines:
        from mlgate.verify.evidence import read_baselines

        if self.directory is None:
            raise BadInput(f"{what}: this server reads no evidence (start it with "
                           "--evidence-dir)")
        if len(name) > 255 or not _EVIDENCE_NAME.fullmatch(name):
            raise BadInput(f"{what}: {name[:60]!r} is not a file name below the evidence "
                           "directory (letters, digits, '.', '_', '-' and '/'; no '..')")
        path = os.path.realpath(os.path.join(self.directory, name))
        if not path.startswith(self.directory + os.sep):
            raise BadInput(f"{what}: {name!r} leads out of the evidence directory")
        try:
            st = os.stat(path)
        except OSError:
            raise BadInput(f"{what}: no file {name!r} in the evidence directory") from None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            found = read_baselines(path)
        except BadInput as exc:   # its message names the server's path: name the request's
            raise BadInput(str(exc).replace(f"--evidence {path}", f"{what} {name!r}")) from None
        with self._lock:
            if len(self._cache) >= EVIDENCE_CACHE:
                self._cache.clear()
            self._cache[path] = (key, found)
        return found


class ClientPool:
    """Prometheus clients shared by the request threads: each request borrows one (a
    requests Session is not for two threads at once) and gives it back, so connections to
    Prometheus stay open from one request to the next."""

    IDLE = 16

    def __init__(self, access: PrometheusAccess) -> None:
        self.access = access
        self._idle: list = []
        self._lock = threading.Lock()

    def _new(self):
        from mlgate.cluster.http_retry import Backoff
        from mlgate.verify.prometheus import PrometheusClient

        # short retries: the caller's own timeout (Flagger's 10 s default) bounds the request
        return PrometheusClient(self.access, Backoff(base=0.2, cap=1.0, max_tries=4))

    def warm(self) -> None:
        """Import the HTTP client now, not on the first request."""
        with self.client():
            pass

    @contextmanager
    def client(self) -> Iterator:
        with self._lock:
            client = self._idle.pop() if self._idle else None
        client = client or self._new()
        try:
            yield client
        finally:
            with self._lock:
                keep = len(self._idle) < self.IDLE
                if keep:
                    self._idle.append(client)
            if not keep:
                client.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()


def measure_round(checks: Sequence[Check], labels: Mapping[str, str], window: float,
                  baselines: Baselines | None, evidence: str | None,
                  read: Callable[[str], Sequence[float]],
                  spread: Callable[..., Iterable[Any]] | None = None) -> Round:
    """Each check measured once. `read(promql)` returns the values or raises MeasureError
    (an Error measurement: Prometheus unreachable, the query refused). `spread`: a map()
    that measures the checks side by side (an executor's), so a call waits for its slowest
    query rather than for all of them in turn."""
    from mlgate.verify.measure import take

    prepared = [_prepare(c, labels, window, baselines, evidence, read) for c in checks]
    measured = list((spread or map)(lambda p: take(p, 0.0), prepared))
    answers = []
    for p, m in zip(prepared, measured):
        message = m.message
        if m.phase == "Failed":
            message = reason(p.check.name, p.check.unit, p.low, p.high, [m], "Failed")
        answers.append(CheckAnswer(p.check.name, p.query, m.phase, m.value, p.low, p.high,
                                   p.check.unit, p.baseline, m.time, message))
    phase: MeasurementPhase = run_phase([a.phase for a in answers])  # type: ignore[assignment]
    first = next((a for a in answers if a.phase == phase), None)
    message = (f"{len(answers)} check(s) passed" if phase == "Successful" or first is None
               else first.message if phase == "Failed" else f"{first.name}: {first.message}")
    return Round(phase, tuple(answers), message)


def _prepare(check: Check, labels: Mapping[str, str], window: float,
             baselines: Baselines | None, evidence: str | None,
             read: Callable[[str], Sequence[float]]):
    from mlgate.verify.evidence import drop_floor
    from mlgate.verify.measure import Prepared
    from mlgate.verify.promql import LABELS, fill

    what = f"check {check.name}"
    low, high, baseline = check.min, check.max, None
    if check.max_drop is not None:
        if baselines is None:
            raise BadInput(f"{what}: max-drop is judged against the benchmark evidence that "
                           "promoted the model: name its file in `evidence`")
        if check.name not in baselines.scores:
            raise BadInput(f"{what}: evidence {evidence!r} holds no {check.name} score for "
                           "the candidate")
        baseline = baselines.scores[check.name]
        floor = drop_floor(baseline, check.max_drop, check.drop_relative)
        low = floor if low is None else max(low, floor)
    for key in LABELS:
        if f"{{{key}}}" in check.query and not labels.get(key):
            given = f"give `{LABEL_KEYS[key]}`" if key in LABEL_KEYS else "known only in mlgate canary"
            raise BadInput(f"{what}: its query uses {{{key}}}: {given}")
    query = fill(check.query, dict(labels), window, what)
    return Prepared(check, query, low, high, lambda: read(query), baseline)


def prometheus_reader(pool: ClientPool, deadline: float) -> Callable[[str], list[float]]:
    """`read` for measure_round: one instant query, no retry starting after `deadline` (a
    time.monotonic()). Whatever keeps Prometheus from answering is an Error measurement,
    its own misconfiguration (credentials, a wrong URL) included: the request was fine."""
    from mlgate.verify.measure import MeasureError

    def read(promql: str) -> list[float]:
        try:
            with pool.client() as client:
                return list(client.query(promql, deadline=deadline).values)
        except MlgateError as exc:     # QueryError, and BadInput about Prometheus itself
            raise MeasureError(str(exc)) from None
    return read
