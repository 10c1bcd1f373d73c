"""Finding and running the Trivy binary: an argument list, never a shell string; its full JSON
always; a clear exit code for each way it can fail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlgate import safe_load
from mlgate.errors import BadInput, ServiceError

MIN_VERSION = (0, 50, 0)
# Trivy's JSON is untrusted (it quotes the scanned image's files) but legitimately large: a
# big image with --list-all-pkgs, thousands of packages and every vulnerability's description
# and references runs to tens of MiB. 256 MiB leaves ample room above that while keeping the
# parsed objects (roughly 5-8x the text) within a standard 7 GB CI runner's memory.
MAX_REPORT_BYTES = 256 * safe_load.MiB
_VERSION_RE = re.compile(r"Version:\s*v?([0-9]+)\.([0-9]+)\.([0-9]+)")
_DB_PROBLEMS = ("failed to download vulnerability db", "db error", "oci artifact error",
                "--skip-db-update cannot be specified", "failed to download", "unable to open db",
                "first run cannot skip downloading db", "database error")


@dataclass(frozen=True)
class Trivy:
    path: str
    version: str


def locate(explicit: str | None, environ: Mapping[str, str]) -> str:
    for candidate, what in ((explicit, "--trivy"), (environ.get("TRIVY"), "$TRIVY")):
        if candidate:
            if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
                raise BadInput(f"{what} {candidate!r}: not an executable file")
            return candidate
    found = shutil.which("trivy", path=environ.get("PATH"))
    if not found:
        raise BadInput("trivy not found: put it on PATH, set $TRIVY or --trivy, or use "
                       "--install-trivy VERSION")
    return found


def check_version(path: str, environ: Mapping[str, str]) -> Trivy:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                              env=dict(environ), check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"trivy --version failed: {exc}") from None
    m = _VERSION_RE.search(proc.stdout)
    if proc.returncode != 0 or not m:
        raise ServiceError(f"{path} --version gave no version (exit {proc.returncode})")
    version = tuple(int(x) for x in m.groups())
    if version < MIN_VERSION:
        shown = ".".join(map(str, MIN_VERSION))
        raise BadInput(f"trivy {'.'.join(m.groups())} at {path} is older than {shown}, "
                       "the minimum mlgate supports")
    return Trivy(path, ".".join(m.groups()))


def run_json(trivy: Trivy, args: Sequence[str], environ: Mapping[str, str],
             timeout_s: float) -> dict:
    """Run trivy with args (its JSON to a temp file) and return the parsed report."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlgate-trivy-") as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = [trivy.path, *args[:1], "--format", "json", "--output", out, *args[1:]]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(environ), cwd=tmp,
                                  timeout=timeout_s + min(30.0, max(3.0, timeout_s / 10)),
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"trivy did not finish within {timeout_s:.0f} s") from None
        except OSError as exc:
            raise ServiceError(f"cannot run {trivy.path}: {exc.strerror}") from None
        if proc.returncode != 0:
            raise _failure(proc.returncode, proc.stderr)
        if not os.path.exists(out):
            raise ServiceError("trivy exited 0 but wrote no report")
        data = safe_load.load_json(out, "trivy's JSON report", limit=MAX_REPORT_BYTES,
                                   error=ServiceError)
    if not isinstance(data, dict):
        raise ServiceError("trivy printed JSON that is not a report object")
    return data


def _failure(code: int, stderr: str) -> Exception:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    fatal = next((ln for ln in reversed(lines) if "FATAL" in ln or "Fatal" in ln or "error" in
                  ln.lower()), lines[-1] if lines else f"exit {code}")
    lowered = stderr.lower()
    if "context deadline exceeded" in lowered or "timeout" in lowered and "deadline" in lowered:
        return ServiceError("trivy timed out (raise --timeout)")
    if any(p in lowered for p in _DB_PROBLEMS):
        return ServiceError("no vulnerability DB could be had: every --db-repository failed "
                            "or --offline found no DB in the cache: " + _clip(fatal))
    if "unable to find the specified image" in lowered or "no such file" in lowered:
        return BadInput("trivy cannot read the target: " + _clip(fatal))
    if code < 0 or code > 128:
        return ServiceError(f"trivy crashed (exit {code}): " + _clip(fatal))
    return ServiceError(f"trivy failed (exit {code}): " + _clip(fatal))


def _clip(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    return text if len(text) <= 300 else text[:300] + "…"
