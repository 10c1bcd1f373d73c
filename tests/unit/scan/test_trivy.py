"""mlgate scan with the real Trivy binary, fully offline, on an image tarball whose packages
match a vulnerability DB built by the tests (support/trivyfix.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from support.images import DEFAULT_PACKAGES, debian_image, k8s_manifests
from support.trivyfix import build_db, trivy_bin

from mlgate.cli import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("scan")
    cache = base / "cache"
    build_db(cache)
    image = base / "image.tar"
    debian_image(image, DEFAULT_PACKAGES, secret=True)
    clean = base / "clean.tar"
    debian_image(clean, [p for p in DEFAULT_PACKAGES if p.name in ("base-files", "tzdata")])
    k8s = base / "k8s"
    k8s_manifests(k8s)
    return {"cache": cache, "image": image, "clean": clean, "k8s": k8s, "trivy": trivy_bin()}


def scan(world, tmp_path, *args, target=("--input", "image")):
    out = tmp_path / "r.json"
    kind, key = target
    code = main(["scan", kind, str(world[key]), "--cache-dir", str(world["cache"]), "--offline",
                 "--trivy", world["trivy"], "--json", str(out), *args],
                environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    return code, json.loads(out.read_text())


def ids(data, status=None):
    return sorted(f["id"] for f in data["result"]["findings"]
                  if f["kind"] == "vulnerability" and (status is None or f["status"] == status))


def test_vulnerabilities_found_and_gate_fails_on_high(world, tmp_path):
    code, data = scan(world, tmp_path, "--scanners", "vuln")
    assert code == 1
    assert ids(data) == ["CVE-2099-1001", "CVE-2099-1002", "CVE-2099-1003", "CVE-2099-1004",
                         "CVE-2099-1005", "CVE-2099-1006"]
    assert ids(data, "blocking") == ["CVE-2099-1001", "CVE-2099-1002"]
    out = data["outputs"]
    assert (out["passed"], out["critical"], out["high"], out["medium"], out["low"],
            out["unknown"], out["max-cvss"]) == ("false", "1", "1", "2", "1", "1", "9.8")


def test_clean_image_passes(world, tmp_path):
    code, data = scan(world, tmp_path, "--scanners", "vuln", target=("--input", "clean"))
    assert code == 0 and data["outputs"]["passed"] == "true" and ids(data) == []


@pytest.mark.parametrize("args, blocking", [
    (["--fail-on-severity", "CRITICAL"], ["CVE-2099-1001"]),
    (["--fail-on-severity", "MEDIUM"], ["CVE-2099-1001", "CVE-2099-1002", "CVE-2099-1003",
                                        "CVE-2099-1005"]),
    (["--fail-on-severity", "NONE", "--max-cvss", "7.0"], ["CVE-2099-1001", "CVE-2099-1002",
                                                          "CVE-2099-1005"]),
    (["--fail-on-severity", "CRITICAL", "--ignore-unfixed"], ["CVE-2099-1001"]),
    (["--fail-on-severity", "HIGH", "--ignore-unfixed"], ["CVE-2099-1001"]),
])
def test_thresholds(world, tmp_path, args, blocking):
    code, data = scan(world, tmp_path, "--scanners", "vuln", *args)
    assert ids(data, "blocking") == blocking
    assert code == (1 if blocking else 0)


def test_ignore_file_with_and_without_expiry(world, tmp_path):
    ignore = tmp_path / ".trivyignore.yaml"
    ignore.write_text("vulnerabilities:\n"
                      "  - id: CVE-2099-1001\n    statement: patched in our base image\n"
                      "    expired_at: 2099-01-01\n"
                      "  - id: CVE-2099-1002\n    expired_at: 2020-01-01\n")
    code, data = scan(world, tmp_path, "--scanners", "vuln", "--ignore-file", str(ignore))
    assert code == 1
    assert ids(data, "ignored") == ["CVE-2099-1001"]
    assert ids(data, "blocking") == ["CVE-2099-1002"]
    expired = [n for n in data["result"]["ignores"] if n["expired"]]
    assert [n["id"] for n in expired] == ["CVE-2099-1002"]


def test_vex_not_affected_suppresses(world, tmp_path):
    openssl = next(p for p in DEFAULT_PACKAGES if p.name == "openssl")
    vex = tmp_path / "openvex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
        "author": "ML platform", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2099-1002"},
                        "products": [{"@id": openssl.purl()}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path"}]}))
    code, data = scan(world, tmp_path, "--scanners", "vuln", "--vex", str(vex))
    assert "CVE-2099-1002" in ids(data, "ignored")
    assert ids(data, "blocking") == ["CVE-2099-1001"]


def test_secrets_found_and_never_echoed(world, tmp_path):
    from support.images import planted_secret

    code, data = scan(world, tmp_path, "--scanners", "secret")
    secrets = [f for f in data["result"]["findings"] if f["kind"] == "secret"]
    assert {f["id"] for f in secrets} == {"aws-access-key-id", "aws-secret-access-key"}
    assert code == 1
    for value in planted_secret().values():
        assert value not in json.dumps(data)


def test_kubernetes_misconfigurations_offline(world, tmp_path):
    code, data = scan(world, tmp_path, target=("--config", "k8s"))
    found = {f["id"] for f in data["result"]["findings"] if f["kind"] == "misconfiguration"}
    assert {"KSV-0009", "KSV-0014", "KSV-0017"} <= found
    assert code == 1


def test_reports_are_written_and_valid(world, tmp_path):
    sarif, gitlab, junit = tmp_path / "r.sarif", tmp_path / "gl.json", tmp_path / "j.xml"
    code, data = scan(world, tmp_path, "--scanners", "vuln,secret", "--sarif", str(sarif),
                      "--gitlab-report", str(gitlab), "--junit", str(junit))
    assert code == 1
    assert data["outputs"]["sarif"] == str(sarif)
    doc = json.loads(sarif.read_text())
    assert doc["version"] == "2.1.0" and doc["runs"][0]["results"]
    gl = json.loads(gitlab.read_text())
    assert gl["scan"]["type"] == "container_scanning" and gl["version"].startswith("15.")
    root = ET.parse(junit).getroot()
    assert root.iter("failure")
