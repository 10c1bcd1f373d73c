"""An answer to one request: the status the caller acts on, the JSON body that says why, and
the word the decision log records."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    decision: str     # proceed, halt, rollback, continue, noted, measured, refused, error
    headers: Mapping[str, str] = field(default_factory=dict)


def refused(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {"error": message}, "refused", dict(headers or {}))


def encode(body: Mapping[str, Any]) -> bytes:
    """Strict JSON (a Go decoder takes it): a non-finite value, which JSON cannot hold, is
    null; the message beside it says what it was."""
    return (json.dumps(_finite(body), ensure_ascii=True, allow_nan=False,
                       separators=(",", ":")) + "\n").encode("ascii")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
