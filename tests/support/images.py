"""Small, deterministic scan targets for the real Trivy binary, built without Docker.

- `debian_image(path, packages, secret=False)`: a `docker save`-layout tarball (manifest.json, a
  `<sha256>.json` image config whose rootfs.diff_ids name the layers, `<sha256>/layer.tar` layers)
  of a "Debian 12" image: layer 1 holds etc/os-release, etc/debian_version and
  var/lib/dpkg/status listing `packages`; layer 2 holds an app file, with a planted AWS key pair
  when `secret=True`. Scan it with `trivy image --input PATH`.
- `debian_rootfs(dir, packages, secret=False)`: the same files as a plain directory (Trivy 0.76
  finds the OS packages with both `trivy rootfs DIR` and `trivy fs DIR`).
- `k8s_manifests(dir)`: a Kubernetes Deployment that Trivy's built-in checks flag
  (`K8S_EXPECTED_CHECKS`), for `trivy config DIR`.

The same inputs always give the same bytes (fixed mtimes, owners and ordering), so an image's ID
and layer digests are stable across runs.

The planted secret is assembled at run time, so no key-shaped literal sits in the repository.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

EPOCH = 1_700_000_000  # fixed mtime for every tar entry: 2023-11-14T22:13:20Z
CREATED = "2024-01-01T00:00:00Z"
DEFAULT_REPO_TAG = "mlgate-fixture/debian:12"
SECRET_PATH = "app/config/settings.env"
# etc/debian_version; Trivy reports the OS as {"Family": "debian", "Name": "12.5"}
DEBIAN_VERSION = "12.5"


@dataclass(frozen=True)
class Package:
    """One dpkg package. `source`/`source_version`: its Debian source package (the name Trivy's
    advisories are keyed by), when they differ from the binary package's."""

    name: str
    version: str
    source: str | None = None
    source_version: str | None = None
    arch: str = "amd64"

    @property
    def src_name(self) -> str:
        return self.source or self.name

    @property
    def src_version(self) -> str:
        return self.source_version or self.version

    def purl(self, distro: str = f"debian-{DEBIAN_VERSION}") -> str:
        """The package URL Trivy gives this package (PkgIdentifier.PURL), e.g. for VEX."""
        epoch, _, version = self.version.rpartition(":")
        version = quote(version, safe=".-_~")  # "+" -> "%2B", as Trivy's packageurl-go does
        qualifiers = f"arch={self.arch}&distro={distro}" + (f"&epoch={epoch}" if epoch else "")
        return f"pkg:deb/debian/{self.name}@{version}?{qualifiers}"


# Installed versions as in a mid-2024 debian:12 image. Advisories match by source package.
DEFAULT_PACKAGES: tuple[Package, ...] = (
    Package("base-files", "12.4+deb12u5"),
    Package("libc6", "2.36-9+deb12u3", source="glibc"),
    Package("openssl", "3.0.11-1~deb12u2"),
    Package("tzdata", "2024a-0+deb12u1"),
    Package("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
)

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""


def dpkg_status(packages: Iterable[Package]) -> str:
    """var/lib/dpkg/status text for `packages`."""
    stanzas = []
    for p in packages:
        lines = [
            f"Package: {p.name}",
            "Status: install ok installed",
            "Priority: optional",
            "Section: libs",
            "Installed-Size: 100",
            "Maintainer: Debian Fixture <fixture@example.invalid>",
            f"Architecture: {p.arch}",
        ]
        if p.source:
            src = p.source
            if p.source_version and p.source_version != p.version:
                src += f" ({p.source_version})"
            lines.append(f"Source: {src}")
        lines += [f"Version: {p.version}", f"Description: {p.name} (test fixture)"]
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas)


def planted_secret() -> dict[str, str]:
    """The fake AWS credentials `secret=True` plants (shaped to match Trivy's built-in rules)."""
    key_id = "AK" + "IA" + "QYLPMN5HFIQR7XTZ"  # AKIA + 16 of [A-Z2-7]
    secret = "wJalrXUtnFEMIK7MDENG" + "bPxRfiCYq9Zt3L8sVw2K"  # 40 characters
    return {"aws_access_key_id": key_id, "aws_secret_access_key": secret}


def _os_files(packages: Sequence[Package]) -> dict[str, bytes]:
    return {
        "etc/os-release": OS_RELEASE.encode(),
        "etc/debian_version": f"{DEBIAN_VERSION}\n".encode(),
        "var/lib/dpkg/status": dpkg_status(packages).encode(),
    }


def _app_files(secret: bool) -> dict[str, bytes]:
    files = {"app/main.py": b'print("hello from the fixture image")\n'}
    if secret:
        s = planted_secret()
        files[SECRET_PATH] = (
            "# deployment settings\n"
            "REGION=eu-west-1\n"
            f"AWS_ACCESS_KEY_ID={s['aws_access_key_id']}\n"
            f"AWS_SECRET_ACCESS_KEY={s['aws_secret_access_key']}\n"
        ).encode()
    else:
        files[SECRET_PATH] = b"# deployment settings\nREGION=eu-west-1\n"
    return files


def _layer_tar(files: dict[str, bytes]) -> bytes:
    """A deterministic uncompressed tar of `files` (parent directories included)."""
    dirs: set[str] = set()
    for name in files:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            info = tarfile.TarInfo(d + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            tar.addfile(info)
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
    tar.addfile(info, io.BytesIO(data))


def debian_image(
    path: str | os.PathLike[str],
    packages: Sequence[Package] = DEFAULT_PACKAGES,
    secret: bool = False,
    *,
    repo_tag: str = DEFAULT_REPO_TAG,
) -> Path:
    """Write a `docker save` tarball of a two-layer Debian 12 image to `path`; return the path."""
    path = Path(path)
    layers = [_layer_tar(_os_files(packages)), _layer_tar(_app_files(secret))]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["python3", "/app/main.py"],
            "WorkingDir": "/app",
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD file:debian-12-rootfs in /"},
            {"created": CREATED, "created_by": "COPY app/ /app/ # buildkit"},
        ],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_names = [d.split(":", 1)[1] + "/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in zip(layer_names, layers):
            _add(tar, name, data)
        _add(tar, config_name, config_bytes)
        _add(tar, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    return path


def image_id(path: str | os.PathLike[str]) -> str:
    """`sha256:<config digest>` of a tarball written by `debian_image` (Trivy's ImageID)."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    return "sha256:" + manifest[0]["Config"].removesuffix(".json")


def debian_rootfs(
    directory: str | os.PathLike[str],
    packages: Sequence[Package] = DEFAULT_PACKAGES,
    secret: bool = False,
) -> Path:
    """Write the image's files as a directory tree (for `trivy rootfs`); return the directory."""
    root = Path(directory)
    for name, data in {**_os_files(packages), **_app_files(secret)}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


# A Deployment on the host network whose container runs privileged, as root, with a writable root
# filesystem and no resource limits. `K8S_EXPECTED_CHECKS` lists the built-in checks it must trip (IDs as Trivy
# 0.76 prints them in Misconfigurations[].ID); Trivy reports others too.
K8S_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-server
  namespace: ml
  labels:
    app: model-server
spec:
  replicas: 1
  selector:
    matchLabels:
      app: model-server
  template:
    metadata:
      labels:
        app: model-server
    spec:
      hostNetwork: true
      containers:
        - name: server
          image: registry.example.invalid/ml/model-server:1.0.0
          ports:
            - containerPort: 8080
          securityContext:
            privileged: true
            runAsUser: 0
            allowPrivilegeEscalation: true
"""

K8S_EXPECTED_CHECKS: dict[str, str] = {
    "KSV-0001": "MEDIUM",  # can elevate its own privileges (allowPrivilegeEscalation)
    "KSV-0009": "HIGH",  # access to host network
    "KSV-0012": "MEDIUM",  # runs as root (runAsNonRoot not true)
    "KSV-0014": "HIGH",  # root file system is not read-only
    "KSV-0017": "HIGH",  # privileged container
}


def k8s_manifests(directory: str | os.PathLike[str]) -> Path:
    """Write deployment.yaml (see `K8S_DEPLOYMENT`) into `directory`; return the directory."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / "deployment.yaml").write_text(K8S_DEPLOYMENT)
    return root
