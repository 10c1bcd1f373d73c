"""examples/model-project/policies, each passing and failing with real regopy on the manifests the
promotion's rewrite produces from examples/config-repo (plus workloads the tests add)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support.configrepo import EXAMPLES, bare_from_tree, tree_files

from tests.unit.comply.conftest import IMG, comply

POLICIES = str(Path(__file__).resolve().parents[3] / "examples" / "model-project" / "policies")
DIGEST = "sha256:" + "a" * 64
PINNED = f"{IMG}:v1.5.0@{DIGEST}"

GPU_DEPLOYMENT = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: trainer
      labels: {{region: {region}}}
    spec:
      template:
        spec:
          containers:
            - name: train
              image: {image}
              resources:
                requests: {{nvidia.com/gpu: 1}}
                limits: {limits}
"""


def config_repo(tmp_path, extra=None):
    files = tree_files(EXAMPLES)
    for rel, text in (extra or {}).items():
        files[rel] = textwrap.dedent(text).lstrip()
    return bare_from_tree(tmp_path, files)


def audit_repo(tmp_path, version="2"):
    repo = tmp_path / "model"
    repo.mkdir()
    (repo / "bias_audit.md").write_text(f"---\nmodel_version: {version}\n---\n# Bias audit\n")
    return repo


def run(tmp_path, remote, image=PINNED, environment="production", audit="2"):
    argv = ["--policy", POLICIES]
    if audit is not None:
        argv += ["--model-repo", str(audit_repo(tmp_path, audit)), "--document",
                 "bias_audit.md", "--model-version", "2"]
    code, doc = comply(remote, tmp_path, *argv, image=image, environment=environment)
    return code, sorted((f["kind"], f["rule"], f["message"]) for f in doc["result"]["findings"])


def test_a_pinned_image_with_its_bias_audit_passes(tmp_path):
    code, found = run(tmp_path, config_repo(tmp_path))
    assert code == 0
    assert found == [("warn", "warn_no_scan", "no scan result was given to the compliance gate")]


def test_a_tag_is_refused_in_production_not_in_staging(tmp_path):
    remote = config_repo(tmp_path)
    code, found = run(tmp_path, remote, image=f"{IMG}:v1.5.0")
    assert code == 1
    assert ("deny", "deny_mutable_tag_in_production",
            f"kustomize images: {IMG}:v1.5.0 is not pinned by digest in production") in found
    (tmp_path / "s").mkdir()
    code, found = run(tmp_path / "s", remote, image=f"{IMG}:v1.5.0", environment="staging",
                      audit=None)
    assert code == 0, found


def test_latest_is_refused_everywhere(tmp_path):
    remote = config_repo(tmp_path)
    (tmp_path / "s").mkdir()
    code, found = run(tmp_path / "s", remote, image=f"{IMG}:latest", environment="staging",
                      audit=None)
    assert code == 1
    assert found == [("deny", "deny_latest", f"kustomize images: {IMG}:latest uses :latest"),
                     ("warn", "warn_no_scan", "no scan result was given to the compliance gate")]


@pytest.mark.parametrize("image, limits, region, expected", [
    ("registry.example.com/ml/trainer:1@" + DIGEST, "{nvidia.com/gpu: 1, cpu: 4, memory: 8Gi}",
     "eu-west-1", []),
    ("registry.example.com/ml/trainer:1@" + DIGEST, "{nvidia.com/gpu: 1}", "eu-west-1",
     [("deny", "deny_gpu_without_limits", "container train uses a GPU without a cpu limit"),
      ("deny", "deny_gpu_without_limits", "container train uses a GPU without a memory limit")]),
    ("registry.example.com/ml/trainer:1@" + DIGEST, "{cpu: 4, memory: 8Gi}", "eu-west-1",
     [("deny", "deny_gpu_without_limits",
       "container train requests nvidia.com/gpu without a limit")]),
    ("registry.example.com/ml/trainer:1@" + DIGEST, "{nvidia.com/gpu: 1, cpu: 4, memory: 8Gi}",
     "us-east-1",
     [("deny", "deny_region", 'Deployment/trainer: region "us-east-1" (label region) is not '
                              "allowed; allowed: eu-central-1, eu-west-1")]),
    ("docker.io/library/python:3.12@" + DIGEST, "{nvidia.com/gpu: 1, cpu: 4, memory: 8Gi}",
     "eu-west-1",
     [("deny", "deny_unapproved_registry",
       f"container train: docker.io/library/python:3.12@{DIGEST} is not from an approved "
       "registry (ghcr.io/example-org/, registry.example.com/ml/)")]),
])
def test_workload_policies(tmp_path, image, limits, region, expected):
    remote = config_repo(tmp_path, {"apps/churn/production/trainer.yaml": GPU_DEPLOYMENT.format(
        image=image, limits=limits, region=region)})
    code, found = run(tmp_path, remote)
    found = [f for f in found if f[0] == "deny"]
    assert found == expected
    assert code == (1 if expected else 0)


def test_a_bias_audit_of_another_version_or_none(tmp_path):
    remote = config_repo(tmp_path)
    code, found = run(tmp_path, remote, audit="1")
    assert code == 1
    assert ("deny", "deny_bias_audit", "bias_audit.md audits model version 1, not the "
            "candidate 2") in found
    (tmp_path / "none").mkdir()
    code, found = run(tmp_path / "none", remote, audit=None)
    assert code == 1
    assert ("deny", "deny_bias_audit",
            "production needs a bias audit: give --document bias_audit.md:version") in found
