"""Where the share goes: the traffic field grammar and finding the environment's
InferenceService in a checkout that a hostile commit may have shaped."""

from __future__ import annotations

import os

import pytest

from mlgate.canary.config import TrafficField
from mlgate.canary.traffic import find_inference_service, parse_field, setter
from mlgate.errors import BadInput
from mlgate.promote.config import LateSet

ISVC = ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n"
        "  name: {name}\nspec:\n  predictor:\n    model:\n      storageUri: s3://m/1\n")


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,want", [
    ("route.yaml:spec.rules[0].backendRefs[1].weight",
     TrafficField("route.yaml", "spec.rules[0].backendRefs[1].weight")),
    ("route.yaml:spec.rules[0].backendRefs[name=stable].weight=stable",
     TrafficField("route.yaml", "spec.rules[0].backendRefs[name=stable].weight", True)),
    ("vs.yaml:spec.http[0].route[1].weight", TrafficField("vs.yaml", "spec.http[0].route[1].weight")),
])
def test_fields_read_as_set_paths(text, want):
    assert parse_field(text) == want


@pytest.mark.parametrize("text", ["route.yaml", "route.yaml:", ":spec.x", "r.yaml:spec.x=5",
                                  "r.yaml:spec.x=canary", "r.yaml:spec..x"])
def test_bad_fields_are_refused_naming_the_option(text):
    with pytest.raises(BadInput, match="--traffic-field"):
        parse_field(text)


@pytest.mark.parametrize("share,canary,stable", [(1, 1, 99), (25, 25, 75), (100, 100, 0),
                                                  (0, 0, 100)])
def test_the_stable_side_takes_the_rest(share, canary, stable):
    assert TrafficField("f", "p").value(share) == canary
    assert TrafficField("f", "p", True).value(share) == stable


def test_the_one_inference_service_is_found_below_the_folder(tmp_path):
    write(tmp_path, "prod/sub/model.yaml", "---\nkind: ConfigMap\n---\n" + ISVC.format(name="x"))
    write(tmp_path, "prod/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\n")
    write(tmp_path, "staging/isvc.yaml", ISVC.format(name="x"))
    assert find_inference_service(str(tmp_path), "prod", "churn") == "sub/model.yaml"
    sets = setter((), 5, "churn")(str(tmp_path), "prod")
    assert sets == (LateSet("sub/model.yaml:spec.predictor.canaryTrafficPercent=5", "100", "0"),)
    # the last step: a rollback of the finished canary restores what ran before, as it was
    last = setter((), 100, "churn")(str(tmp_path), "prod")
    assert last == (LateSet("sub/model.yaml:spec.predictor.canaryTrafficPercent=100", "100"),)


def test_none_found_asks_for_the_field(tmp_path):
    write(tmp_path, "prod/deploy.yaml", "kind: Deployment\n")
    write(tmp_path, "prod/other.yaml", "apiVersion: example.com/v1\nkind: InferenceService\n")
    with pytest.raises(BadInput, match="no KServe InferenceService .* --traffic-field"):
        find_inference_service(str(tmp_path), "prod", "churn")


def test_a_symlink_a_hidden_folder_and_broken_yaml_are_not_followed(tmp_path):
    outside = write(tmp_path, "elsewhere/isvc.yaml", ISVC.format(name="churn"))
    (tmp_path / "prod").mkdir()
    os.symlink(outside, tmp_path / "prod" / "link.yaml")
    write(tmp_path, "prod/.hidden/isvc.yaml", ISVC.format(name="churn"))
    write(tmp_path, "prod/broken.yaml", "kind: [InferenceService\n")
    write(tmp_path, "prod/latin1.yaml", "")
    (tmp_path / "prod" / "latin1.yaml").write_bytes(b"kind: \xe9\n")
    with pytest.raises(BadInput, match="no KServe InferenceService"):
        find_inference_service(str(tmp_path), "prod", "churn")


def test_an_alias_bomb_is_read_unexpanded(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    write(tmp_path, "prod/bomb.yaml", bomb)
    write(tmp_path, "prod/isvc.yaml", ISVC.format(name="churn"))
    assert find_inference_service(str(tmp_path), "prod", "churn") == "isvc.yaml"


def test_two_in_one_file_are_ambiguous_even_when_one_is_the_apps(tmp_path):
    write(tmp_path, "prod/both.yaml", ISVC.format(name="churn") + "---\n" + ISVC.format(name="b"))
    with pytest.raises(BadInput, match=r"several InferenceServices .*churn \(both.yaml\)"):
        find_inference_service(str(tmp_path), "prod", "churn")


def test_a_named_weight_must_already_be_there(tmp_path):
    write(tmp_path, "prod/route.yaml", "spec:\n  rules:\n    - backendRefs:\n        - weight: 0\n")
    fields = (TrafficField("route.yaml", "spec.rules[0].backendRefs[0].weight"),)
    assert setter(fields, 5, "churn")(str(tmp_path), "prod") == (
        LateSet("route.yaml:spec.rules[0].backendRefs[0].weight=5"),)
    missing = (TrafficField("route.yaml", "spec.rules[0].backendRefs[0].other"),)
    with pytest.raises(BadInput, match="no value there"):
        setter(missing, 5, "churn")(str(tmp_path), "prod")
    escape = (TrafficField("../x.yaml", "a"),)
    with pytest.raises(BadInput, match="inside the environment folder"):
        setter(escape, 5, "churn")(str(tmp_path), "prod")
