"""`--install-trivy VERSION`: the official release archive, verified against the release's
checksums file before anything in it is used; cached per version."""

from __future__ import annotations

import hashlib
import io
import os
import platform
import re
import tarfile
import urllib.error
import urllib.request
from collections.abc import Mapping

from mlgate.atomic import write_atomic
from mlgate.errors import BadInput, ServiceError

DEFAULT_BASE = "https://github.com/aquasecurity/trivy/releases/download/v{version}"
# ASCII digits, whole string: `$` would pass "0.76.0\n" and Unicode \d "٠.٧٦.٠" into the URL
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+", re.ASCII)
MAX_ARCHIVE = 300 * 1024 * 1024


def archive_name(version: str) -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "64bit", "amd64": "64bit", "aarch64": "ARM64", "arm64": "ARM64"}.get(machine)
    if arch is None:
        raise BadInput(f"--install-trivy: no Trivy release for this machine ({machine})")
    return f"trivy_{version}_Linux-{arch}.tar.gz"


def install(version: str, cache_dir: str, environ: Mapping[str, str]) -> str:
    version = version.lstrip("v")
    if not _VERSION.fullmatch(version):
        raise BadInput(f"--install-trivy {version!r}: expected a version like 0.76.0")
    target_dir = os.path.join(cache_dir, "bin", version)
    binary = os.path.join(target_dir, "trivy")
    if os.path.isfile(binary) and os.access(binary, os.X_OK):
        return binary
    base = (environ.get("MLGATE_TRIVY_DOWNLOAD_URL") or DEFAULT_BASE).format(version=version)
    name = archive_name(version)
    sums = _fetch(f"{base}/trivy_{version}_checksums.txt", 1024 * 1024).decode("utf-8", "replace")
    expected = _expected_sha(sums, name)
    archive = _fetch(f"{base}/{name}", MAX_ARCHIVE)
    actual = hashlib.sha256(archive).hexdigest()
    if actual != expected:
        raise ServiceError(f"--install-trivy: {name} has sha256 {actual}, the release's "
                           f"checksums file says {expected}; refusing it")
    os.makedirs(target_dir, exist_ok=True)
    data = _extract_binary(archive, name)
    write_atomic(binary, data, mode=0o755)  # a concurrent job never runs half a binary
    return binary


def _expected_sha(sums: str, name: str) -> str:
    for line in sums.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == name and re.fullmatch(r"[0-9a-f]{64}",
                                                                             parts[0]):
            return parts[0]
    raise ServiceError(f"--install-trivy: the release's checksums file has no entry for {name}")


def _fetch(url: str, limit: int) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - https/http only
            data = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise ServiceError(f"--install-trivy: {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"--install-trivy: cannot download {url}: {exc}") from None
    if len(data) > limit:
        raise ServiceError(f"--install-trivy: {url} is larger than expected")
    return data


def _extract_binary(archive: bytes, name: str) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name in ("trivy", "./trivy")
                           and m.isfile()), None)
            if member is None:
                raise ServiceError(f"--install-trivy: {name} holds no trivy binary")
            fh = tar.extractfile(member)
            assert fh is not None
            return fh.read()
    except tarfile.TarError:
        raise ServiceError(f"--install-trivy: {name} is not a valid archive") from None
