"""The scan as SARIF 2.1.0, shaped for GitHub code scanning.

- One run per scanned target; its `automationDetails.id` is `<category>/`, which GitHub reads as
  the analysis category, so uploads for several images or directories do not close each
  other's alerts. The default category is stable across versions of one image (the tag and
  digest are dropped): `mlgate-scan/image/registry.example.com/ml/churn`.
- One result per finding, ignored ones included with `suppressions: [{kind: external}]` and the
  justification, so GitHub shows them as dismissed rather than silently dropping them.
- One rule per finding ID with short and full descriptions, `helpUri`, `help.text` and
  `help.markdown`, and `properties.security-severity` (the highest CVSS v3 score of its findings,
  or CRITICAL 9.5 / HIGH 8.0 / MEDIUM 5.5 / LOW 2.0) with the `security` tag GitHub needs to
  use it. Levels follow severity: CRITICAL and HIGH are errors, MEDIUM a warning, the rest notes.
- GitHub rejects a run with more than 25,000 results: past that, the most important findings
  are kept (failing the gate first, then by severity) and the run says how many were left out.
- Every result has a physical location with a `startLine` >= 1, as GitHub requires; image
  findings point at Trivy's target (the OS or the package file) at line 1.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse

from mlgate import __version__
from mlgate.escape import escape_markdown
from mlgate.scan.result import Finding, ScanResult, severity_rank

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
TOOL_NAME = "mlgate (Trivy)"
TRIVY_URI = "https://github.com/aquasecurity/trivy"
MAX_RESULTS = 25_000  # GitHub's hard limit of results (and of rules) per run
_STATUS_RANK = {"blocking": 0, "allowed": 1, "ignored": 2, "unfixed-ignored": 2}
SEVERITY_SCORE = {"CRITICAL": 9.5, "HIGH": 8.0, "MEDIUM": 5.5, "LOW": 2.0}
LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note",
         "UNKNOWN": "note"}
_RULE_NAME = {"vulnerability": "Vulnerability", "secret": "Secret",
              "misconfiguration": "Misconfiguration", "license": "License"}
_KIND_TAG = {"vulnerability": "vulnerability", "secret": "secret",
             "misconfiguration": "misconfiguration", "license": "license"}
_CATEGORY_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")
_OS_SUFFIX = re.compile(r"\s+\([^()]*\)\Z", re.ASCII)  # Trivy's "image (debian 12.5)"
_URI_SAFE = "/@!$&'()*+,;=-._~"  # ':' is encoded: a relative reference's first segment has none
_TEXT_CHARS = 4000


def sarif(result: ScanResult, category: str | None = None) -> dict:
    """The SARIF log (a dict, ready for json.dump). `category` defaults to one derived from the
    scanned target (see default_category)."""
    rules: list[dict] = []
    index: dict[tuple[str, str], int] = {}
    rule_ids: set[str] = set()
    uris: dict[str, str] = {}  # Trivy targets repeat: each is turned into a URI once
    results = []
    findings, omitted = _within_limit(result.findings)
    for f in findings:
        key = (f.kind, f.id)
        i = index.get(key)
        if i is None:
            i = index[key] = len(rules)
            rule_id = f.id if f.id not in rule_ids else f"{f.kind}/{f.id}"
            rule_ids.add(rule_id)
            rules.append(_rule(rule_id, f))
        else:
            _raise_severity(rules[i], f)
        results.append(_result(f, rules[i]["id"], i, uris))
    run: dict = {
        "tool": {"driver": _driver(rules)},
        "automationDetails": {"id": _automation_id(category or default_category(result))},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "target": result.target,
            "targetKind": result.target_kind,
            "passed": result.passed,
            "policy": {
                "failOnSeverity": result.policy.fail_on_severity,
                "maxCvss": result.policy.max_cvss,
                "ignoreUnfixed": result.policy.ignore_unfixed,
            },
        },
    }
    if result.trivy_version:
        run["tool"]["extensions"] = [{"name": "Trivy", "version": result.trivy_version,
                                      "informationUri": TRIVY_URI}]
    invocation: dict = {"executionSuccessful": True}
    if result.started_at and _ISO_UTC.fullmatch(result.started_at):
        invocation["startTimeUtc"] = result.started_at
    if omitted:
        run["properties"]["omittedResults"] = omitted
        invocation["toolExecutionNotifications"] = [{"level": "warning", "message": {
            "text": f"{omitted} less important findings left out: GitHub code scanning "
                    f"accepts at most {MAX_RESULTS} results per run"}}]
    run["invocations"] = [invocation]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _within_limit(findings: tuple[Finding, ...]) -> tuple[tuple[Finding, ...], int]:
    if len(findings) <= MAX_RESULTS:
        return findings, 0
    ranked = sorted(range(len(findings)), key=lambda i: (
        _STATUS_RANK.get(findings[i].status, 1), -severity_rank(findings[i].severity),
        -(findings[i].cvss or 0.0), i))
    keep = sorted(ranked[:MAX_RESULTS])
    return tuple(findings[i] for i in keep), len(findings) - MAX_RESULTS


def default_category(result: ScanResult) -> str:
    """`mlgate-scan/<kind>/<target>`, the target without tag or digest for images so that the
    category stays the same from one version of an image to the next."""
    target = result.target.strip()
    if result.target_kind == "image":
        target = _image_repository(target)
    elif result.target_kind == "input":
        target = target.rsplit("/", 1)[-1]
    target = _CATEGORY_UNSAFE.sub("-", target).strip("/-.") or "target"
    return f"mlgate-scan/{result.target_kind}/{target[:200]}"


# --------------------------------------------------------------------------- rules


def _driver(rules: list[dict]) -> dict:
    return {"name": TOOL_NAME, "version": __version__, "semanticVersion": __version__,
            "rules": rules}


def _rule(rule_id: str, f: Finding) -> dict:
    title = _clip(f.title) or f.id
    score = _score(f)
    url = http_url(f.url)
    props: dict = {"tags": ["security", _KIND_TAG.get(f.kind, f.kind), f.severity],
                   "precision": "very-high"}
    if score is not None:
        props["security-severity"] = f"{score:.1f}"
    rule: dict = {
        "id": rule_id,
        "name": _RULE_NAME.get(f.kind, "Finding"),
        "shortDescription": {"text": _clip(title, 1000)},
        "fullDescription": {"text": _clip(f.description) or title},
        "defaultConfiguration": {"level": LEVEL.get(f.severity, "note")},
        "help": {"text": _help_text(f, url), "markdown": _help_markdown(f, url)},
        "properties": props,
    }
    if url:
        rule["helpUri"] = url
    return rule


def _raise_severity(rule: dict, f: Finding) -> None:
    """A rule shared by several findings (one CVE in two packages) takes the worst of them."""
    score = _score(f)
    props = rule["properties"]
    if score is not None and score > float(props.get("security-severity", "-1")):
        props["security-severity"] = f"{score:.1f}"
    level = LEVEL.get(f.severity, "note")
    if _LEVEL_RANK[level] > _LEVEL_RANK[rule["defaultConfiguration"]["level"]]:
        rule["defaultConfiguration"]["level"] = level
        props["tags"][2] = f.severity


_LEVEL_RANK = {"note": 0, "warning": 1, "error": 2}


def _score(f: Finding) -> float | None:
    if f.cvss is not None and f.cvss > 0:
        return min(float(f.cvss), 10.0)
    return SEVERITY_SCORE.get(f.severity)


def _help_text(f: Finding, url: str) -> str:
    lines = [f"{_RULE_NAME.get(f.kind, 'Finding')} {f.id}", f"Severity: {f.severity}"]
    if f.cvss is not None:
        lines.append(f"CVSS v3: {f.cvss:.1f}")
    if f.kind == "vulnerability":
        lines.append(f"Package: {f.package} {f.installed}".rstrip())
        lines.append(f"Fixed version: {f.fixed}" if f.fixed else "Fixed version: none yet")
    if f.title:
        lines.append(f.title)
    if url:
        lines.append(f"Link: {url}")
    return _clip("\n".join(lines))  # the description is in fullDescription and help.markdown


def _help_markdown(f: Finding, url: str) -> str:
    e = escape_markdown
    rows = [("Severity", e(f.severity))]
    if f.cvss is not None:
        rows.append(("CVSS v3", f"{f.cvss:.1f}"))
    if f.kind == "vulnerability":
        rows.append(("Package", e(f"{f.package} {f.installed}".strip())))
        rows.append(("Fixed version", e(f.fixed) if f.fixed else "none yet"))
    if url:
        rows.append(("Link", f"[{e(f.id)}]({urllib.parse.quote(url, safe='/:?#@!$&*+,;=%-._~')})"))
    table = "| | |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    heading = f"**{e(_RULE_NAME.get(f.kind, 'Finding'))} {e(f.id)}**: {e(_clip(f.title, 500))}"
    body = e(_clip(f.description)) if f.description and f.description != f.title else ""
    return "\n\n".join(p for p in (heading, table, body) if p)


# --------------------------------------------------------------------------- results


def _result(f: Finding, rule_id: str, rule_index: int, uris: dict[str, str]) -> dict:
    out: dict = {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL.get(f.severity, "note"),
        "message": {"text": _message(f)},
        "locations": [_location(f, uris)],
        "partialFingerprints": {"mlgateFinding/v1": _fingerprint(f)},
        "properties": _properties(f),
    }
    if f.status in ("ignored", "unfixed-ignored"):
        why = "; ".join(f.reasons) or ("no fix available (--ignore-unfixed)"
                                       if f.status == "unfixed-ignored" else "ignored")
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": _clip(why, 1000)}]
    return out


def _message(f: Finding) -> str:
    if f.kind == "vulnerability":
        fix = f"fixed in {f.fixed}" if f.fixed else "no fix available"
        cvss = f", CVSS {f.cvss:.1f}" if f.cvss is not None else ""
        head = (f"{f.id} in {f.package or 'a package'} {f.installed}".rstrip()
                + f" ({f.severity}{cvss}, {fix})")
    else:
        head = f"{f.id} ({f.severity})"
    if f.title:
        head += f": {f.title}"
    if f.status == "blocking":
        head += ". Fails the gate: " + ("; ".join(f.reasons) or "policy")
    elif f.reasons and f.status == "allowed":
        head += ". " + "; ".join(f.reasons)
    return _clip(head, _TEXT_CHARS)


def _location(f: Finding, uris: dict[str, str]) -> dict:
    path = f.target if f.kind == "vulnerability" else (f.location or f.target)
    uri = uris.get(path)
    if uri is None:
        uri = uris[path] = artifact_uri(path)
    start = f.start_line if f.start_line and f.start_line >= 1 else 1
    region: dict = {"startLine": start}
    if f.end_line and f.end_line >= start:
        region["endLine"] = f.end_line
    loc: dict = {"physicalLocation": {"artifactLocation": {"uri": uri},
                                      "region": region}}
    if f.kind in ("vulnerability", "license") and f.package:
        loc["message"] = {"text": _clip(f"{f.package} {f.installed}".strip(), 500)}
    return loc


def _properties(f: Finding) -> dict:
    props: dict = {"kind": f.kind, "severity": f.severity, "status": f.status,
                   "target": f.target}
    if f.package:
        props["package"] = f.package
    if f.installed:
        props["installedVersion"] = f.installed
    if f.kind == "vulnerability":
        props["fixedVersion"] = f.fixed
    if f.cvss is not None:
        props["cvss"] = f.cvss
    if f.reasons:
        props["reasons"] = list(f.reasons)
    return props


def _fingerprint(f: Finding) -> str:
    """Stable across versions of the same package and of the image: kind, ID, package and place
    (the OS release in Trivy's target is left out)."""
    place = f.location or _OS_SUFFIX.sub("", f.target)
    key = "\x1f".join((f.kind, f.id, f.package, place, str(f.start_line or "")))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --------------------------------------------------------------------------- helpers


def artifact_uri(path: str) -> str:
    """A URI reference for a Trivy target: relative paths stay relative (GitHub resolves them
    against the checkout), absolute ones become file: URIs, the OS suffix is dropped."""
    p = _OS_SUFFIX.sub("", (path or "").strip()) or "target"
    p = "".join(ch for ch in p if ch >= " " and ch != "\x7f")
    while p.startswith("./"):
        p = p[2:]
    if p.startswith("/"):
        return "file://" + urllib.parse.quote(p, safe=_URI_SAFE)
    return urllib.parse.quote(p, safe=_URI_SAFE) or "target"


def _automation_id(category: str) -> str:
    c = "".join(ch for ch in category.strip() if ch >= " ") or "mlgate-scan"
    return c if c.endswith("/") else c + "/"


def _image_repository(ref: str) -> str:
    """The name without tag or digest, by the one reference grammar (scan has validated the
    target; anything else is kept whole and made safe by the caller)."""
    from mlgate.manifests.reference import try_parse_reference

    parsed = try_parse_reference(ref)
    return parsed.name if parsed is not None else ref


_RFC3986 = "-._~:/?#[]@!$&'()*+,;=%"
_HTTP_URL = re.compile(r"https?://[A-Za-z0-9\-._~%!$&'()*+,;=:@\[\]]+"
                       r"(?:[/?#][A-Za-z0-9\-._~%!$&'()*+,;=:@/?#\[\]]*)?\Z")
_NO_URL = re.compile(r"[\x00-\x20\x7f]")


def http_url(url: str) -> str:
    """`url` if it is an absolute http(s) URL (characters outside RFC 3986 percent-encoded),
    else "": Trivy's links are untrusted, and a `javascript:` one must not become a link."""
    if not url or len(url) > 2000 or _NO_URL.search(url):
        return ""
    url = urllib.parse.quote(url, safe=_RFC3986)
    return url if _HTTP_URL.match(url) else ""


def _clip(text: str, limit: int = _TEXT_CHARS) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ASCII digits and the whole string (`$` also matches before a trailing newline)
_ISO_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"(Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII)
