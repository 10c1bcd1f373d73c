"""How a render-analysis result reads: the manifests written and who judges each check."""

from __future__ import annotations

import dataclasses

from mlgate.escape import escape_markdown
from mlgate.report.presentation import Presentation, Section, Table
from mlgate.verify.render.result import RenderResult

TARGET = {"flagger": "Flagger", "argo-rollouts": "Argo Rollouts"}


def outputs(result: RenderResult) -> dict[str, str]:
    return {
        "output": result.output or "",
        "documents": str(len(result.manifests)),
        "measured": ",".join(result.measured),
        "served": ",".join(result.served),
    }


def present(result: RenderResult) -> Presentation:
    where = result.output or "standard output"
    rows = tuple((m.kind, m.name, m.namespace or "") for m in result.manifests)
    lines = [f"- **{escape_markdown(name)}**: measured by {TARGET[result.target]} from "
             "Prometheus" for name in result.measured]
    lines += [f"- **{escape_markdown(name)}**: judged by mlgate serve-analysis"
              for name in result.served]
    md = (f"{len(result.manifests)} manifest(s) for {TARGET[result.target]} from "
          f"{escape_markdown(result.source)}, written to {escape_markdown(where)}.\n\n"
          + "\n".join(lines))
    data = dataclasses.asdict(result)
    data.pop("text")            # the documents are there already, as data
    return Presentation(
        command="render-analysis",
        title=f"mlgate render-analysis --for {result.target}",
        verdict=f"wrote {len(result.manifests)} manifest(s) to {where}",
        exit_code=0,
        outputs=outputs(result),
        sections=(Section("Checks", md),),
        table=Table(("kind", "name", "namespace"), rows),
        result=data,
    )
