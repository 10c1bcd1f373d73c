"""Expectation suites kept in the model repository, in either of two forms.

- GX's own JSON, as `ExpectationSuite.to_json_dict()` writes it:
  `{"name": ..., "expectations": [{"type": ..., "kwargs": {...}, "severity": ..., "meta": {...}}]}`
  (the 0.x keys `expectation_suite_name` and `expectation_type` are read too).
- A YAML form meant to be written by hand, one entry per expectation, mapping 1:1 to GX's
  expectation classes:

      name: churn
      expectations:
        - expectation: expect_column_values_to_not_be_null   # or the class name
          kwargs: {column: customer_id}
          severity: critical                                 # critical (default), warning, info

Loading (`load_suite`) only parses and checks the shape, so a malformed file is reported
without importing GX. `build_suite` turns the entries into GX expectations; an unknown
expectation or a bad argument is bad input naming the suite file and the entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import safe_load
from mlgate.errors import BadInput
from mlgate.validate.result import SEVERITIES

MAX_SUITE_BYTES = safe_load.MAX_BYTES
_TYPE_KEYS = ("expectation", "type", "expectation_type")
_ENTRY_KEYS = frozenset({*_TYPE_KEYS, "kwargs", "severity", "meta", "id", "notes",
                         "description", "rendered_content"})
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class SuiteEntry:
    index: int  # from 1, as a person counts entries in the file
    type: str  # snake_case expectation type
    kwargs: dict[str, Any]
    severity: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class SuiteSpec:
    path: str
    name: str
    entries: tuple[SuiteEntry, ...]

    def where(self, entry: SuiteEntry) -> str:
        return f"suite {self.path}: expectation {entry.index} ({entry.type})"


def load_suite(path: str, option: str = "--suite") -> SuiteSpec:
    """Parse a suite file (JSON or YAML, by content) and check its shape.

    Read through the shared loader (size, depth, alias-bomb limits). A suite without a single
    expectation is bad input, not a pass: a gate that checked nothing must not say "passed".
    """
    label = f"{option} {path}"
    if Path(path).is_dir():
        raise BadInput(f"{label}: is a directory, expected a JSON or YAML file")
    text = safe_load.read_text(path, label, limit=MAX_SUITE_BYTES)
    if path.lower().endswith(".json") or text.lstrip().startswith("{"):
        document = safe_load.parse_json(text, label)
    else:
        document = safe_load.parse_yaml(text, label)
    if not isinstance(document, dict):
        raise BadInput(f"{label}: expected a mapping with `expectations:`")
    entries = document.get("expectations")
    if not isinstance(entries, list):
        raise BadInput(f"{label}: `expectations` must be a list")
    if not entries:
        raise BadInput(f"{label}: the suite has no expectations; a gate that checks nothing "
                       "cannot pass")
    name = document.get("name", document.get("expectation_suite_name")) or Path(path).stem
    if not isinstance(name, str):
        raise BadInput(f"{label}: `name` must be a string")
    return SuiteSpec(path=path, name=name,
                     entries=tuple(_entry(path, i, e) for i, e in enumerate(entries, 1)))


def _entry(path: str, index: int, raw: Any) -> SuiteEntry:
    where = f"suite {path}: expectation {index}"
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: expected a mapping with `expectation` and `kwargs`")
    unknown = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
    if unknown:
        raise BadInput(f"{where}: unknown key(s) {', '.join(unknown)} (expected expectation, "
                       "kwargs, severity, meta)")
    types = [raw[k] for k in _TYPE_KEYS if k in raw]
    if len(types) != 1 or not isinstance(types[0], str) or not types[0].strip():
        raise BadInput(f"{where}: give the expectation's type once, as `expectation: "
                       "expect_...`")
    type_ = snake_type(types[0].strip())
    if not _SNAKE.match(type_):
        raise BadInput(f"{where}: {types[0]!r} is not an expectation name")
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise BadInput(f"{where} ({type_}): `kwargs` must be a mapping of argument names")
    severity = raw.get("severity") or "critical"
    if severity not in SEVERITIES:
        raise BadInput(f"{where} ({type_}): severity {severity!r}: expected one of "
                       + ", ".join(reversed(SEVERITIES)))
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise BadInput(f"{where} ({type_}): `meta` must be a mapping")
    return SuiteEntry(index=index, type=type_, kwargs=dict(kwargs), severity=severity, meta=meta)


def snake_type(name: str) -> str:
    """`ExpectColumnValuesToNotBeNull` -> `expect_column_values_to_not_be_null`."""
    if "_" in name or name.islower():
        return name
    return _CAMEL.sub("_", name).lower()


def build_suite(spec: SuiteSpec):
    """The GX ExpectationSuite for `spec` (imports great_expectations)."""
    import great_expectations as gx
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    expectations = []
    for entry in spec.entries:
        try:
            cls = get_expectation_impl(entry.type)
        except ExpectationNotFoundError:
            raise BadInput(f"{spec.where(entry)}: unknown expectation") from None
        try:
            expectation = cls(**entry.kwargs, severity=entry.severity, meta=entry.meta)
        except Exception as exc:  # pydantic's ValidationError, or a TypeError of GX's own
            raise BadInput(f"{spec.where(entry)}: bad argument: {_first_error(exc)}") from None
        expectations.append(expectation)
    return gx.ExpectationSuite(name=spec.name, expectations=expectations)


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            found = errors()
        except Exception:  # noqa: BLE001 - fall back to the message
            found = []
        for err in found:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
            msg = err.get("msg", "invalid")
            return f"{loc}: {msg}" if loc else msg
    return " ".join(str(exc).split())[:300] or type(exc).__name__
