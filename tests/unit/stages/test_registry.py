"""Every stage has the one shape the CLI, mlgate.yaml and the pipeline rely on."""

from __future__ import annotations

import click
import pytest

from mlgate import interface
from mlgate.errors import BadInput
from mlgate.stages.params import values_from
from mlgate.stages.registry import MODULES, stage


def test_the_registry_lists_exactly_the_interface_stages() -> None:
    assert tuple(MODULES) == interface.STAGES
    assert set(interface.STAGES) | {"pipeline", "demo", "serve-analysis"} == set(
        interface.COMMANDS)
    with pytest.raises(BadInput, match="unknown stage 'nope'"):
        stage("nope")


@pytest.mark.parametrize("name", interface.STAGES)
def test_each_stage_has_the_protocol(name: str) -> None:
    found = stage(name)
    assert found.name == name and found.help
    for method in ("config_from", "run", "present"):
        assert callable(getattr(found, method))
    inputs = [interface.input_name(p) for p in found.params]
    assert len(inputs) == len(set(inputs)), f"{name}: an input is declared twice"
    assert "json" not in inputs, f"{name}: --json is the CLI's, added to every command"
    assert all(isinstance(p, click.Parameter) for p in found.params)
    assert set(interface.OUTPUTS[name]), f"{name}: no outputs declared"


def test_values_are_converted_by_the_parameters_own_types() -> None:
    params = stage("validate").params
    values = values_from(params, {"data": "d.csv", "suite": "s.yaml", "psi-threshold": 0.3,
                                  "fail-on": "WARNING"}, where="mlgate.yaml: validate")
    assert values["psi_threshold"] == 0.3 and values["fail_on"] == "warning"
    assert values["engine"] == "pandas"          # the default, as the CLI gives it
    with pytest.raises(BadInput, match=r"mlgate.yaml: validate\.psi-threshold"):
        values_from(params, {"data": "d", "suite": "s", "psi-threshold": -1},
                    where="mlgate.yaml: validate")
    with pytest.raises(BadInput, match=r"unknown input 'bogus'"):
        values_from(params, {"data": "d", "suite": "s", "bogus": 1}, where="mlgate.yaml: x")
    with pytest.raises(BadInput, match=r"validate\.data"):
        values_from(params, {"suite": "s"}, where="mlgate.yaml: validate")


def test_relative_paths_resolve_against_the_given_folder_urls_do_not(tmp_path) -> None:
    bench = stage("benchmark")
    values = values_from(bench.params, {"candidate": "models/c.skops",
                                        "champion": "models:/churn@champion",
                                        "data": "data/h.csv", "target": "y"},
                         where="mlgate.yaml: benchmark", base=tmp_path, paths=bench.paths)
    assert values["candidate"] == str(tmp_path / "models/c.skops")
    assert values["champion"] == "models:/churn@champion"
    assert values["data"] == str(tmp_path / "data/h.csv")
    promote = stage("promote")
    given = {"repo": "git@github.com:acme/config.git", "app": "a", "environment": "e",
             "signing-key": "ABCDEF0123"}
    values = values_from(promote.params, given, where="x", base=tmp_path, paths=promote.paths,
                         name_or_path=promote.name_or_path)
    assert values["repo"] == "git@github.com:acme/config.git"
    assert values["signing_key"] == "ABCDEF0123"      # a GPG key id, not a file here
    (tmp_path / "key").write_text("k")
    values = values_from(promote.params, {**given, "signing-key": "key"}, where="x",
                         base=tmp_path, paths=promote.paths, name_or_path=promote.name_or_path)
    assert values["signing_key"] == str(tmp_path / "key")
