"""The release as the `mlgate.release` policies see it: one documented input of the facts a
compliance rule needs (what is shipped, where, with which evidence and documents).

The names are a contract with the teams' policies, listed in docs/commands/comply.md; a new
fact is added, never renamed. Every gate key is present (null when that gate's result was not
given), so a policy can tell "no scan" from "a scan with no findings".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlgate import safe_load
from mlgate.comply.documents import DocumentFacts
from mlgate.errors import BadInput
from mlgate.interface import GATES as INTERFACE_GATES

# the gates whose results comply reads: every gate but itself
GATES = tuple(g for g in INTERFACE_GATES if g != "comply")


def gates_from(paths: tuple[str, ...]) -> dict[str, Any]:
    """Each gate's JSON result by its command (validate, benchmark, scan, or any other
    mlgate command's), read with the same limits as promote's --evidence."""
    from mlgate.promote.message import load_evidence

    gates: dict[str, Any] = {name: None for name in GATES}
    for path, ev in zip(paths, load_evidence(paths), strict=True):
        if ev.command in gates and gates[ev.command] is not None:
            raise BadInput(f"--evidence {path}: a second {ev.command} result")
        gates[ev.command] = safe_load.parse_json(ev.data, f"--evidence {path}")
    return gates


def candidate(gates: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's candidate model (uri, name, version), as its JSON result holds it."""
    bench = gates.get("benchmark")
    result = bench.get("result") if isinstance(bench, dict) else None
    model = result.get("candidate") if isinstance(result, dict) else None
    return model if isinstance(model, dict) else {}


def release_input(*, app: str, environment: str, images: tuple[str, ...],
                  gates: dict[str, Any], version: str | None,
                  documents: Mapping[str, DocumentFacts],
                  environ: Mapping[str, str]) -> dict[str, Any]:
    from mlgate.manifests.reference import parse_user_reference
    from mlgate.promote import message as msg

    refs = [parse_user_reference(text, "--image") for text in images]
    image_facts = [{"reference": str(r), "repository": r.repository, "tag": r.tag,
                    "digest": r.digest} for r in refs]
    model = candidate(gates)
    return {
        "app": app,
        "environment": environment,
        "image": image_facts[0] if image_facts else None,
        "images": image_facts,
        "model": {"uri": model.get("uri"), "name": model.get("name"),
                  "version": version},
        "gates": gates,
        "documents": {path: facts.to_input() for path, facts in documents.items()},
        "git": {"model_commit": msg.source(environ), "actor": msg.actor(environ)},
    }
