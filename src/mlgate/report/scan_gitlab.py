"""The scan as a GitLab container-scanning security report, schema 15.0.7.

GitLab 15+ validates `artifacts:reports:container_scanning` against its security report schemas
and drops a report that does not conform; Trivy's bundled `gitlab.tpl` still writes 14.x. This
writer follows `container-scanning-report-format.json` 15.0.7: the required `scan` block
(analyzer and scanner with vendor, `type`, `start_time`/`end_time` as `YYYY-MM-DDTHH:MM:SS`,
`status`), and per vulnerability a deterministic UUID, name, description, severity
(Critical/High/Medium/Low/Info/Unknown), solution, identifiers, links and the
`dependency`/`operating_system`/`image` location.

Only vulnerabilities go in (secrets, misconfigurations and licenses have no place in a
container-scanning report), and ignored ones are left out, as GitLab's own analyzer leaves out
allow-listed ones: the report has no way to mark a finding as dismissed.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import uuid

from mlgate import __version__
from mlgate.report.scan_sarif import http_url
from mlgate.scan.result import Finding, ScanResult

SCHEMA_VERSION = "15.0.7"
SCHEMA_URL = ("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
              f"v{SCHEMA_VERSION}/dist/container-scanning-report-format.json")
TRIVY_URL = "https://github.com/aquasecurity/trivy"
SEVERITY = {"CRITICAL": "Critical", "HIGH": "High", "MEDIUM": "Medium", "LOW": "Low",
            "UNKNOWN": "Unknown"}
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:mlgate:scan:gitlab-container-scanning")
_NAME_CHARS = 255
_DESCRIPTION_CHARS = 1_048_576
_SOLUTION_CHARS = 7000
_IDENTIFIER_TYPE = re.compile(r"^([A-Za-z]+)-")
_TIME = "%Y-%m-%dT%H:%M:%S"


def gitlab_container_scanning(result: ScanResult) -> dict:
    """The report as a dict, ready for json.dump."""
    start, end = _times(result)
    scan: dict = {
        "analyzer": {"id": "mlgate", "name": "mlgate", "version": __version__,
                     "vendor": {"name": "mlgate"}},
        "scanner": {"id": "trivy", "name": "Trivy", "url": TRIVY_URL,
                    "version": _nonempty(result.trivy_version, "unknown"),
                    "vendor": {"name": "Aqua Security"}},
        "type": "container_scanning",
        "start_time": start,
        "end_time": end,
        "status": "success",
    }
    messages = [{"level": "info", "value": note} for note in result.notes if note]
    if messages:
        scan["messages"] = messages
    image = _nonempty(result.artifact_name or result.target, "unknown")
    operating_system = _nonempty(result.os, "Unknown")
    vulnerabilities = []
    seen: set[str] = set()
    for f in result.findings:
        if f.kind != "vulnerability" or f.status not in ("blocking", "allowed"):
            continue
        vulnerabilities.append(_vulnerability(f, image, operating_system, seen))
    return {"version": SCHEMA_VERSION, "schema": SCHEMA_URL, "scan": scan,
            "vulnerabilities": vulnerabilities, "remediations": []}


def _vulnerability(f: Finding, image: str, operating_system: str, seen: set[str]) -> dict:
    vid = _uuid(f, image, seen)
    name = " ".join(f.title.split()) or (f"{f.id} in {f.package}" if f.package else f.id)
    description = f.description or f.title or f.id
    if f.fixed:
        solution = f"Upgrade {f.package or 'the package'} to {f.fixed}"
    else:
        solution = "No fix is available yet"
    out: dict = {
        "id": vid,
        "name": _clip(name, _NAME_CHARS),
        "description": _clip(description, _DESCRIPTION_CHARS),
        "severity": SEVERITY.get(f.severity, "Unknown"),
        "solution": _clip(solution, _SOLUTION_CHARS),
        "identifiers": [_identifier(f)],
        "links": [],
        "location": {
            "dependency": {"package": {"name": _nonempty(f.package, "unknown")},
                           "version": f.installed},
            "operating_system": operating_system,
            "image": image,
        },
    }
    url = http_url(f.url)
    if url:
        out["links"].append({"url": url})
    return out


def _identifier(f: Finding) -> dict:
    vid = _nonempty(f.id, "unknown")
    m = _IDENTIFIER_TYPE.match(vid)
    kind = m.group(1).lower() if m else "trivy"
    ident: dict = {"type": kind, "name": vid, "value": vid}
    if kind == "cve":
        ident["url"] = "https://nvd.nist.gov/vuln/detail/" + urllib.parse.quote(vid, safe="-")
    elif kind == "ghsa":
        ident["url"] = "https://github.com/advisories/" + urllib.parse.quote(vid, safe="-")
    else:
        url = http_url(f.url)
        if url:
            ident["url"] = url
    return ident


def _uuid(f: Finding, image: str, seen: set[str]) -> str:
    """Deterministic: the same finding in the same image gets the same ID on every run; a second
    identical finding (Trivy can report a package twice) gets the next one in sequence."""
    key = f"{f.kind}\x1f{f.id}\x1f{f.package}\x1f{f.installed}\x1f{f.target}\x1f{image}"
    n = 0
    while True:
        vid = str(uuid.uuid5(_NAMESPACE, key if n == 0 else f"{key}\x1f{n}"))
        if vid not in seen:
            seen.add(vid)
            return vid
        n += 1


def _times(result: ScanResult) -> tuple[str, str]:
    """start_time and end_time in GitLab's format (UTC, no zone, no fraction)."""
    duration = dt.timedelta(seconds=max(result.duration_s or 0.0, 0.0))
    start = _parse_utc(result.started_at) if result.started_at else None
    if start is None:
        end = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        start = end - duration
    else:
        end = start + duration
    return start.strftime(_TIME), end.strftime(_TIME)


def _parse_utc(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def _nonempty(text: str, default: str) -> str:
    text = (text or "").strip()
    return text or default


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
