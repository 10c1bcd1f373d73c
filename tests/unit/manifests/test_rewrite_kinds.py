"""Every place an image reference lives in a config repo is found and set, and nothing else."""

from __future__ import annotations

import pytest

from .rewrite_helpers import read, run, write_tree

REPO = "registry.example.com/team/churn"
NEW = f"{REPO}:v2.0.0"
DIGEST = "sha256:" + "ab" * 32

WORKLOAD_KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_workload_containers_all_lists(tmp_path, kind):
    pod = f"""\
      initContainers:
        - name: init
          image: {REPO}:v1.0.0
      containers:
        - name: app
          image: {REPO}:v1.0.0
      ephemeralContainers:
        - name: debug
          image: {REPO}:v1.0.0
"""
    body = pod if kind == "Pod" else "  template:\n    spec:\n" + pod
    spec = "spec:\n" + (pod.replace("      ", "  ", 1) if kind == "Pod" else body)
    if kind == "Pod":
        spec = "spec:\n" + "\n".join(line[4:] for line in pod.splitlines()) + "\n"
    text = f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: x\n{spec}"
    write_tree(tmp_path, {"m.yaml": text})
    code, data = run(tmp_path, "m.yaml", "--image", NEW)
    assert code == 0
    assert read(tmp_path, "m.yaml") == text.replace("v1.0.0", "v2.0.0")
    assert len(data["result"]["changes"]) == 3


def test_cronjob_and_rollout_in_one_multidoc_file(tmp_path):
    text = f"""\
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: train
              image: {REPO}:v1.0.0
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: churn
spec:
  template:
    spec:
      containers:
      - name: app
        image: '{REPO}:v1.0.0'
...
"""
    write_tree(tmp_path, {"m.yaml": text})
    code, data = run(tmp_path, "m.yaml", "--image", NEW)
    assert code == 0
    assert read(tmp_path, "m.yaml") == text.replace("v1.0.0", "v2.0.0")
    paths = [c["path"] for c in data["result"]["changes"]]
    assert paths == [
        "spec.jobTemplate.spec.template.spec.containers[name=train].image",
        "spec.template.spec.containers[name=app].image",
    ]


def test_kustomize_match_by_name_keeps_new_name(tmp_path):
    text = f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: churn-placeholder
    newName: {REPO}
    newTag: v1.0.0
  - name: {REPO}  # by name
    newName: mirror.example.com/team/churn
    newTag: v1.0.0
  - name: other
    newTag: keep
"""
    write_tree(tmp_path, {"overlays/prod/kustomization.yaml": text})
    code, data = run(tmp_path, "overlays", "--image", NEW)
    assert code == 0
    assert read(tmp_path, "overlays/prod/kustomization.yaml") == text.replace(
        "newTag: v1.0.0", "newTag: v2.0.0"
    )
    assert len(data["result"]["changes"]) == 2


def test_kustomize_digest_added_and_stale_digest_blanked(tmp_path):
    text = f"images:\n- name: {REPO}\n  newTag: v1\n- name: nginx\n  newTag: '1.25'\n  digest: {DIGEST}\n"
    write_tree(tmp_path, {"kustomization.yml": text})
    code, _ = run(tmp_path, ".", "--image", f"{REPO}:v2@{DIGEST}", "--image", "nginx:1.27")
    assert code == 0
    assert read(tmp_path, "kustomization.yml") == (
        f"images:\n- name: {REPO}\n  newTag: v2\n  digest: {DIGEST}\n"
        "- name: nginx\n  newTag: '1.27'\n  digest: \"\"\n"
    )


def test_helm_values_maps_strings_registry_and_depth(tmp_path):
    text = f"""\
# values for production
image:
  registry: registry.example.com
  repository: team/churn
  tag: "v1.0.0"   # set by mlgate
  pullPolicy: IfNotPresent
predictor:
  image:
    repository: {REPO}
    tag: v1.0.0
    digest: ""
sidecar:
  image: "{REPO}:v1.0.0"
redis:
  repository: docker.io/bitnami/redis
  tag: 7.2.4
"""
    write_tree(tmp_path, {"values-prod.yaml": text})
    code, data = run(tmp_path, "values-prod.yaml", "--image", NEW,
                     "--image", "bitnami/redis:7.4.0")
    assert code == 0
    assert read(tmp_path, "values-prod.yaml") == text.replace("v1.0.0", "v2.0.0").replace(
        "7.2.4", "7.4.0"
    )
    assert {c["path"] for c in data["result"]["changes"]} == {
        "image.tag", "predictor.image.tag", "sidecar.image", "redis.tag",
    }


def test_helm_numeric_tag_becomes_quoted_string(tmp_path):
    text = "image:\n  repository: nginx\n  tag: 1.0\n"
    write_tree(tmp_path, {"values.yaml": text})
    code, _ = run(tmp_path, "values.yaml", "--image", "nginx:1.10")
    assert code == 0
    assert read(tmp_path, "values.yaml") == 'image:\n  repository: nginx\n  tag: "1.10"\n'


def test_helm_map_without_digest_field_gets_tag_at_digest(tmp_path):
    text = f"image:\n  repository: {REPO}\n  tag: v1\n"
    write_tree(tmp_path, {"values.yaml": text})
    code, _ = run(tmp_path, "values.yaml", "--image", f"{REPO}:v2@{DIGEST}")
    assert code == 0
    assert read(tmp_path, "values.yaml") == f"image:\n  repository: {REPO}\n  tag: v2@{DIGEST}\n"
    code, _ = run(tmp_path, "values.yaml", "--image", f"{REPO}@{DIGEST}")
    assert code == 2


def test_argocd_application_parameters_values_object_and_kustomize(tmp_path):
    text = f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: churn-prod
spec:
  sources:
    - repoURL: https://charts.example.com
      chart: churn
      helm:
        parameters:
          - name: image.repository
            value: {REPO}
          - name: image.tag
            value: v1.0.0
          - name: model.version
            value: "3"
        valuesObject:
          worker:
            image: {{repository: {REPO}, tag: v1.0.0}}
    - repoURL: https://git.example.com/config.git
      kustomize:
        images:
          - {REPO}:v1.0.0
          - churn={REPO}:v1.0.0
"""
    write_tree(tmp_path, {"apps/churn.yaml": text})
    code, data = run(
        tmp_path, "apps", "--image", NEW,
        "--set", "apps/churn.yaml:spec.sources[0].helm.parameters[name=model.version].value=4",
    )
    assert code == 0, data
    assert read(tmp_path, "apps/churn.yaml") == text.replace("v1.0.0", "v2.0.0").replace(
        'value: "3"', 'value: "4"'
    )
    assert len(data["result"]["changes"]) == 5


def test_argocd_applicationset_template(tmp_path):
    text = f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: churn}}
spec:
  generators: [{{list: {{elements: [{{env: prod}}]}}}}]
  template:
    metadata: {{name: 'churn-{{{{env}}}}'}}
    spec:
      source:
        helm:
          parameters:
            - {{name: image, value: "{REPO}:v1.0.0"}}
"""
    write_tree(tmp_path, {"appset.yaml": text})
    code, _ = run(tmp_path, "appset.yaml", "--image", NEW)
    assert code == 0
    assert read(tmp_path, "appset.yaml") == text.replace("v1.0.0", "v2.0.0")


def test_flux_helmrelease_values_and_setter_markers(tmp_path):
    text = f"""\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: churn
  namespace: ml
spec:
  values:
    image:
      repository: {REPO} # {{"$imagepolicy": "flux-system:churn:name"}}
      tag: v1.0.0 # {{"$imagepolicy": "flux-system:churn:tag"}}
    full: {REPO}:v1.0.0 # {{"$imagepolicy": "flux-system:churn"}}
    pin: sha256:{"0" * 64} # {{"$imagepolicy": "flux-system:churn:digest"}}
    other: v1.0.0 # {{"$imagepolicy": "flux-system:other:tag"}}
"""
    write_tree(tmp_path, {"hr.yaml": text})
    code, data = run(tmp_path, "hr.yaml", "--flux-policy", f"flux-system:churn={NEW}@{DIGEST}")
    assert code == 0, data
    expected = (
        text.replace("tag: v1.0.0", "tag: v2.0.0")
        .replace(f"full: {REPO}:v1.0.0", f"full: {REPO}:v2.0.0@{DIGEST}")
        .replace(f"sha256:{'0' * 64}", DIGEST)
    )
    assert read(tmp_path, "hr.yaml") == expected


def test_kserve_inference_service_image_and_storage_uri(tmp_path):
    text = f"""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: churn
spec:
  predictor:
    model:
      modelFormat: {{name: sklearn}}
      storageUri: s3://models/churn/3
    containers:
      - name: kserve-container
        image: {REPO}:v1.0.0
"""
    write_tree(tmp_path, {"isvc.yaml": text})
    code, _ = run(tmp_path, "isvc.yaml", "--image", NEW,
                  "--set", "isvc.yaml:spec.predictor.model.storageUri=s3://models/churn/4")
    assert code == 0
    assert read(tmp_path, "isvc.yaml") == text.replace("v1.0.0", "v2.0.0").replace(
        "churn/3", "churn/4"
    )


def test_compose_and_actions_image_strings(tmp_path):
    compose = f"services:\n  api:\n    image: {REPO}:v1.0.0\n"
    workflow = f"jobs:\n  t:\n    runs-on: ubuntu-latest\n    container:\n      image: {REPO}:v1.0.0\n"
    write_tree(tmp_path, {"docker-compose.yml": compose, ".github/workflows/x.yml": workflow})
    code, _ = run(tmp_path, ".", "--image", NEW)
    assert code == 0
    assert read(tmp_path, "docker-compose.yml") == compose.replace("v1.0.0", "v2.0.0")
    assert read(tmp_path, ".github/workflows/x.yml") == workflow.replace("v1.0.0", "v2.0.0")


@pytest.mark.parametrize(
    "written, given",
    [
        ("nginx:1.25", "docker.io/library/nginx:1.27"),
        ("docker.io/library/nginx:1.25", "nginx:1.27"),
        ("index.docker.io/library/nginx:1.25", "nginx:1.27"),
        ("library/nginx:1.25", "index.docker.io/library/nginx:1.27"),
    ],
)
def test_docker_hub_spellings_are_one_repository(tmp_path, written, given):
    write_tree(tmp_path, {"d.yaml": f"image: {written}\n"})
    code, _ = run(tmp_path, "d.yaml", "--image", given)
    assert code == 0
    assert read(tmp_path, "d.yaml") == f"image: {written.replace('1.25', '1.27')}\n"


def test_registry_with_port_and_lookalikes_untouched(tmp_path):
    text = (
        "a:\n  image: localhost:5000/team/m:1\n"
        "b:\n  image: localhost:5000/team/m2:1\n"
        "c:\n  image: localhost:5001/team/m:1\n"
        "d:\n  image: other.example.com/team/m:1\n"
    )
    write_tree(tmp_path, {"x.yaml": text})
    code, data = run(tmp_path, "x.yaml", "--image", "localhost:5000/team/m:2")
    assert code == 0
    assert read(tmp_path, "x.yaml") == text.replace("team/m:1", "team/m:2", 1)
    assert len(data["result"]["changes"]) == 1


def test_set_by_index_and_missing_leaf_is_added(tmp_path):
    text = "spec:\n  args: [serve, --model, m1]\n  model:\n    name: churn\n"
    write_tree(tmp_path, {"s.yaml": text})
    code, _ = run(tmp_path, "s.yaml", "--set", "s.yaml:spec.args[2]=m2",
                  "--set", "s.yaml:spec.model.version=7")
    assert code == 0
    assert read(tmp_path, "s.yaml") == (
        "spec:\n  args: [serve, --model, m2]\n  model:\n    name: churn\n    version: \"7\"\n"
    )


def test_a_missing_key_goes_first_when_the_mapping_ends_in_a_block(tmp_path):
    """KServe's predictor ends in `model:`: the key is added before its first key, at that
    key's column (also under a sequence's `- `), and the rest is untouched."""
    text = ("spec:\n  predictor:\n    model:\n      name: m\n"
            "items:\n  - name: a\n    nested:\n      k: v\n")
    write_tree(tmp_path, {"s.yaml": text})
    code, _ = run(tmp_path, "s.yaml", "--set", "s.yaml:spec.predictor.canaryTrafficPercent=5",
                  "--set", "s.yaml:items[0].weight=1")
    assert code == 0
    assert read(tmp_path, "s.yaml") == (
        "spec:\n  predictor:\n    canaryTrafficPercent: \"5\"\n    model:\n      name: m\n"
        "items:\n  - weight: \"1\"\n    name: a\n    nested:\n      k: v\n")


def test_a_complex_first_key_is_refused_rather_than_guessed(tmp_path):
    text = "spec:\n  ? complex\n  : value\n  model:\n    name: m\n"
    write_tree(tmp_path, {"s.yaml": text})
    code, _ = run(tmp_path, "s.yaml", "--set", "s.yaml:spec.extra=1")
    assert code == 2
    assert read(tmp_path, "s.yaml") == text


def test_a_typed_insert_writes_the_number_as_a_number(tmp_path):
    """What a canary sets (promote's late sets): KServe's CRD types canaryTrafficPercent as an
    integer, so a quoted "5" would be refused by the API server."""
    from mlgate.manifests.config import RewriteConfig, parse_set
    from mlgate.manifests.engine import rewrite

    text = "spec:\n  predictor:\n    model:\n      name: m\n"
    write_tree(tmp_path, {"s.yaml": text})
    target = parse_set("s.yaml:spec.predictor.canaryTrafficPercent=5")
    from dataclasses import replace

    rewrite(RewriteConfig(root=str(tmp_path), paths=("s.yaml",), images=(),
                          sets=(replace(target, typed=True),), flux_policies=()))
    assert read(tmp_path, "s.yaml") == ("spec:\n  predictor:\n    canaryTrafficPercent: 5\n"
                                        "    model:\n      name: m\n")
