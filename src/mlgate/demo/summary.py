"""What the demo says about its gates: one line per gate report, and reports/summary.md."""

from __future__ import annotations

from pathlib import Path

from mlgate import safe_load
from mlgate.demo.fixtures import CANDIDATE_TAG, CANDIDATE_VERSION, IMAGE_REPO, Workspace
from mlgate.errors import BadInput
from mlgate.verify.analysis import show


def load_json(path: Path) -> dict:
    """A report the inner commands wrote; {} when it is missing or not a JSON object."""
    try:
        data = safe_load.load_json(str(path), str(path))
    except BadInput:
        return {}
    return data if isinstance(data, dict) else {}


def gate_lines(folder: Path, gates: list[str]) -> list[str]:
    """One line per gate report the pipeline wrote: its verdict and title."""
    lines = []
    for gate in [*gates, "promote"]:
        data = load_json(folder / f"{gate}.json")
        if not data:
            continue
        lines.append(f"{gate}: {data.get('verdict', '?')} - {data.get('title', '')}")
        if gate == "benchmark":
            lines += [f"  {line}" for line in _metric_lines(data)]
    return lines


def verify_lines(folder: Path) -> list[str]:
    """What verify found on the live model: its verdict, then one line per check."""
    data = load_json(folder / "verify.json")
    if not data:
        return []
    lines = [f"verify: {data.get('verdict', '?')} - {data.get('title', '')}"]
    result = data.get("result") if isinstance(data.get("result"), dict) else {}
    for check in result.get("checks") or []:
        if not isinstance(check, dict):
            continue
        values = [m.get("value") for m in check.get("measurements") or []
                  if isinstance(m, dict)]
        unit = str(check.get("unit") or "")
        shown = ", ".join(show(v, unit) if isinstance(v, (int, float)) else "no data"
                          for v in values)
        phase = check.get("phase")
        phase = "not finished (the run ended at the failure)" if phase == "Running" else phase
        lines.append(f"  {check.get('name')}: {phase} ({shown})")
    return lines


def _metric_lines(benchmark: dict) -> list[str]:
    """'accuracy 0.936 -> 0.977 (change +0.041, interval +0.006 .. +0.076): passed'."""
    try:
        metrics = safe_load.parse_json((benchmark.get("outputs") or {}).get("metrics") or "{}",
                                       "benchmark metrics")
    except BadInput:
        return []
    lines = []
    for name, m in metrics.items() if isinstance(metrics, dict) else ():
        try:
            text = (f"{name} {m['champion']:.3f} -> {m['candidate']:.3f} (change "
                    f"{m['delta']:+.3f}, interval {m['low']:+.3f} .. {m['high']:+.3f})")
        except (KeyError, TypeError, ValueError):
            continue
        lines.append(f"{text}: {'passed' if m.get('passed') else 'FAILED'}")
    return lines


def write_summary(ws: Workspace, log: str, staging_gates: list[str], skipped: list[str],
                  aliases: dict[str, dict[str, str | None]], scan_lines: list[str],
                  seconds: float, model_name: str, verified: bool = False) -> Path:
    reports = ws.reports
    out = ["# mlgate demo", "",
           f"Candidate `{model_name}` version {CANDIDATE_VERSION} and image "
           f"`{IMAGE_REPO}:{CANDIDATE_TAG}` were gated and promoted into staging, then into "
           "production from staging; "
           + ("each live model was verified through Prometheus, and production's failed, so "
              "mlgate rolled it back by itself. " if verified else
              "production was then rolled back. ")
           + f"Work directory: `{ws.base}`; {seconds:.0f} s.", ""]
    for name, gates in (("staging", staging_gates), ("production", [])):
        folder = reports / name
        out += [f"## {name}", "", "| step | verdict | summary | report |",
                "|---|---|---|---|"]
        for gate in [*gates, "promote", *(["verify"] if verified else [])]:
            data = load_json(folder / f"{gate}.json")
            verdict = data.get("verdict", "missing") if data else "missing"
            title = str(data.get("title", "")).replace("|", "\\|") if data else ""
            out.append(f"| {gate} | {verdict} | {title} | [{gate}.json]({name}/{gate}.json) |")
        if name == "staging":
            out += [f"| {gate} | skipped | see Scan coverage | |" for gate in skipped]
        if (folder / "benchmark.md").is_file():
            out += ["", f"Benchmark report: [{name}/benchmark.md]({name}/benchmark.md)"]
        out.append("")
    if verified:
        outputs = load_json(reports / "production" / "verify.json").get("outputs") or {}
        out += ["## Rollback of production", "",
                f"By `mlgate verify`: {outputs.get('message', 'missing')}; rollback commit "
                f"`{outputs.get('rollback-commit', '')}` "
                "([verify.json](production/verify.json))", ""]
    else:
        rolled = load_json(reports / "rollback-production.json")
        out += ["## Rollback of production", "",
                f"{rolled.get('verdict', 'missing')}: {rolled.get('title', '')} "
                "([rollback-production.json](rollback-production.json))", ""]
    out += ["## Scan coverage", "", *[f"- {line}" for line in scan_lines], ""]
    out += ["## MLflow registry aliases", "", "| when | staging | champion |", "|---|---|---|",
            "| before | 1 | 1 |"]
    for when, now in aliases.items():
        out.append(f"| {when} | {now.get('staging')} | {now.get('champion')} |")
    out += ["", "## Config repo history", "", "```", log.rstrip(), "```", ""]
    path = reports / "summary.md"
    path.write_text("\n".join(out), encoding="utf-8")
    return path
