"""An environment's `canary:` section in mlgate.yaml, and what `mlgate canary` gets from it.

A canary waits for the controller and runs the checks at every step, so it takes them from
where the environment already states them: the controller from `wait-sync:` (its `timeout` and
`interval` are the canary's `sync-timeout` and `sync-interval`, since verify's `interval` is the
measurements'), the checks from `verify:`. The canary section's own keys win over both; its
`check` and `query` add to verify's, so a check that looks only at the new revision's traffic
(`{canary}`, `{revision}`) can sit beside the environment's usual ones.

Everything checkable without the config repo is checked while the file is read, naming the
key (`environments[1].canary.steps`), so a bad section is exit 2 before any gate spends its
time; the rest is the canary stage's own check, still before its first step lands.
"""

from __future__ import annotations

from typing import Any

from mlgate.errors import BadInput

SYNC_RENAMED = {"timeout": "sync-timeout", "interval": "sync-interval"}
ADDED = ("check", "query")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def merged(canary: dict[str, Any], wait_sync: dict[str, Any] | None,
           verify: dict[str, Any] | None) -> dict[str, Any]:
    """The canary stage's inputs from the three sections, keyed as `mlgate canary` names
    them."""
    out: dict[str, Any] = {SYNC_RENAMED.get(k, k): v for k, v in (wait_sync or {}).items()}
    out.update(verify or {})
    for key, value in canary.items():
        out[key] = _as_list(out[key]) + _as_list(value) if key in ADDED and key in out \
            else value
    return out


def check_section(where: str, canary: dict[str, Any], promote: dict[str, Any],
                  wait_sync: dict[str, Any] | None, verify: dict[str, Any] | None) -> None:
    """Refuse (BadInput naming the key under `where`, e.g. `environments[1]`) what would make
    the canary refuse or ignore part of the environment."""
    from mlgate.pipeline.schema import controlled
    from mlgate.stages.params import by_input
    from mlgate.stages.registry import stage

    if str(promote.get("mode", "push")).strip().lower() == "pull-request":
        raise BadInput(f"{where}.canary: a canary's steps land on the watched branch one after "
                       "another; promote mode pull-request cannot run them (use mode: push)")
    taken = set(by_input(stage("canary").params)) - controlled("canary")
    for name, section in (("wait-sync", wait_sync), ("verify", verify)):
        for key in section or {}:
            if (SYNC_RENAMED.get(key, key) if name == "wait-sync" else key) not in taken:
                raise BadInput(f"{where}.{name}.{key}: not used with canary: (a canary "
                               "reports each step's wait and checks in canary.json); remove "
                               "it")
    for key in ("kubeconfig", "context"):
        if wait_sync and verify and key in wait_sync and key in verify \
                and wait_sync[key] != verify[key] and key not in canary:
            raise BadInput(f"{where}.wait-sync.{key}: differs from verify.{key}; a canary "
                           "uses one cluster for both")
    _check_values(f"{where}.canary", canary, verify or {},
                  merged(canary, wait_sync, verify))


def _check_values(at: str, canary: dict[str, Any], verify: dict[str, Any],
                  given: dict[str, Any]) -> None:
    """The canary's own values, parsed as the canary stage parses them."""
    from mlgate.canary.steps import parse_steps
    from mlgate.canary.traffic import parse_field
    from mlgate.cluster.config import parse_duration
    from mlgate.verify.check import parse_check, parse_queries

    if "steps" in canary:
        text = str(canary["steps"])
        try:
            parse_steps(text)
        except BadInput as exc:
            raise BadInput(f"{at}.steps: {_without(str(exc), f'--steps {text[:60]!r}: ')}"
                           ) from None
    if "pause" in canary:
        parse_duration(str(canary["pause"]), f"{at}.pause")
    fields = _as_list(canary.get("traffic-field", []))
    parsed = []
    for i, text in enumerate(fields):
        key = f"{at}.traffic-field" + (f"[{i}]" if isinstance(canary["traffic-field"], list)
                                       else "")
        try:
            parsed.append(parse_field(str(text)))
        except BadInput as exc:
            raise BadInput(f"{key}: {_without(str(exc), '--traffic-field ')}") from None
    if parsed and sum(1 for f in parsed if not f.stable) != 1:
        raise BadInput(f"{at}.traffic-field: exactly one field carries the new model's share "
                       "(the others end in =stable)")
    try:
        queries = parse_queries([str(q) for q in _as_list(canary.get("query", []))])
    except BadInput as exc:
        raise BadInput(f"{at}.query: {exc}") from None
    try:
        queries = {**parse_queries([str(q) for q in _as_list(verify.get("query", []))]),
                   **queries}
    except BadInput:
        pass   # verify's own section: the canary stage names that one
    checks = canary.get("check", [])
    for i, spec in enumerate(_as_list(checks)):
        try:
            parse_check(str(spec), queries)
        except BadInput as exc:
            key = f"{at}.check" + (f"[{i}]" if isinstance(checks, list) else "")
            raise BadInput(f"{key}: {exc}") from None
    if given.get("check") and not given.get("prometheus"):
        raise BadInput(f"{at}.check: needs prometheus (here or in verify:), the URL the "
                       "checks query")
    if given.get("prometheus") and not given.get("check"):
        raise BadInput(f"{at}.prometheus: without a check (here or in verify:) there is "
                       "nothing to measure")


def _without(message: str, prefix: str) -> str:
    return message[len(prefix):] if message.startswith(prefix) else message
