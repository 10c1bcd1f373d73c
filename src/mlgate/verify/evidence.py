"""The benchmark evidence a live check is judged against: `accuracy:max-drop=5%` means "no more
than 5 % below the score the candidate earned in the benchmark that promoted it", so the
baseline is read from that very JSON (`mlgate benchmark --json`), not typed in again."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlgate import safe_load
from mlgate.errors import BadInput

MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Baselines:
    scores: dict[str, float]         # metric name -> the candidate's score
    model_version: str | None        # the candidate's registry version, when it had one
    model_name: str | None


def read_baselines(path: str) -> Baselines:
    what = f"--evidence {path}"
    doc = safe_load.parse_json(safe_load.read_bytes(path, what, limit=MAX_BYTES), what)
    if not isinstance(doc, dict) or doc.get("command") != "benchmark":
        raise BadInput(f"{what}: not the JSON of mlgate benchmark (its 'command' is not "
                       "'benchmark')")
    result = doc.get("result")
    metrics = result.get("metrics") if isinstance(result, dict) else None
    if not isinstance(metrics, list):
        raise BadInput(f"{what}: no 'result.metrics' list")
    scores: dict[str, float] = {}
    for m in metrics:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            continue
        value = m.get("candidate")
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            scores[m["name"]] = float(value)
    candidate = result.get("candidate")   # result is a dict: it held the metrics list
    version = name = None
    if isinstance(candidate, dict):
        version = candidate.get("version") if isinstance(candidate.get("version"), str) else None
        name = candidate.get("name") if isinstance(candidate.get("name"), str) else None
    return Baselines(scores, version, name)


def drop_floor(score: float, drop: float, relative: bool) -> float:
    """The lowest live value allowed: `score × (1 - drop)` for a relative drop (5% of the
    score), `score - drop` for an absolute one."""
    return score * (1 - drop) if relative else score - drop
