"""render-analysis's inputs: each bad one is exit 2 with one line naming it, before anything
is written (no --output file, nothing on standard output)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mlgate.cli import main

ENV = {"PATH": "/usr/bin:/bin", "MLGATE_CI": "local"}
BASE = ["--app", "churn", "--namespace", "ml", "--prometheus", "http://prometheus:9090"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["render-analysis", *args], environ=ENV)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args,message", [
    (["--check", "error-rate:max=1%", *BASE], r"Missing option '--for'"),
    (["--for", "kubernetes", "--check", "error-rate:max=1%", *BASE], r"'--for'"),
    (["--for", "flagger", *BASE], r"--check: give at least one check"),
    (["--for", "flagger", "--check", "nope:max=1", *BASE],
     r"--check 'nope:max=1': unknown check 'nope'"),
    (["--for", "flagger", "--check", "name=up,query=up", *BASE],
     r"--check 'name=up,query=up': give min=, max="),
    (["--for", "argo-rollouts", "--check", "accuracy:max-drop=5%", *BASE],
     r"--check accuracy: max-drop has no range for an AnalysisTemplate"),
    (["--for", "flagger", "--check", "accuracy:max-drop=5%", *BASE],
     r"--check accuracy: max-drop has no range for Flagger's thresholdRange"),
    (["--for", "flagger", "--check", "replicas-unavailable:max=0", *BASE],
     r"--check replicas-unavailable: read from the Kubernetes API"),
    (["--for", "flagger", "--check", "drift", "--check", "drift:max=0.2", *BASE],
     r"--check: each check once \(drift given twice\)"),
    (["--for", "flagger", "--check", "drift", "--namespace", "ml"], r"--app: give the "),
    (["--for", "flagger", "--check", "drift", *BASE, "--app", "Churn"],
     r"--app \(the default --name\): 'Churn' is not a Kubernetes object name"),
    (["--for", "flagger", "--check", "drift", *BASE, "--namespace", "ML"],
     r"--namespace: 'ML' is not a Kubernetes namespace name"),
    (["--for", "flagger", "--check", "drift", *BASE, "--step-weights", "5,1"],
     r"--step-weights '5,1': the steps must rise"),
    (["--for", "flagger", "--check", "drift", *BASE, "--step-weights", "1,101"],
     r"'101' is not a percent from 1 to 100"),
    (["--for", "flagger", "--check", "drift", *BASE, "--step-weights", "1,x"],
     r"'x' is not a percent"),
    (["--for", "flagger", "--check", "drift", *BASE, "--step-weight", "5",
      "--step-weights", "1,5"], r"--step-weight and --step-weights: give one"),
    (["--for", "flagger", "--check", "drift", *BASE, "--max-weight", "50"],
     r"--max-weight goes with --step-weight"),
    (["--for", "flagger", "--check", "drift", *BASE, "--step-weight", "20",
      "--max-weight", "10"], r"--max-weight 10 is below --step-weight 20"),
    (["--for", "argo-rollouts", "--check", "drift", *BASE, "--threshold", "3"],
     r"--threshold is Flagger's"),
    (["--for", "argo-rollouts", "--check", "drift", *BASE, "--step-weights", "1,2"],
     r"--step-weights is Flagger's"),
    (["--for", "flagger", "--check", "drift", *BASE, "--webhook", "rollout"],
     r"--webhook: give --analysis-url too"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url", "http://a:1",
      "--webhook", "rollout", "--webhook", "rollout"], r"--webhook: each type once"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url", "ftp://a"],
     r"--analysis-url: 'ftp://a' is not an http:// or https:// URL"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url",
      "http://a:8080/x?token=1"], r"--analysis-url: .* has a query or fragment"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url", "http://a/{{x}}"],
     r"--analysis-url: .* has characters a URL does not need"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url", "http://a:99999"],
     r"--analysis-url: .* has no valid host\[:port\]"),
    (["--for", "argo-rollouts", "--provider", "web", "--check", "drift", *BASE,
      "--analysis-url", "http://a:1", "--token-secret", "secret"],
     r"--token-secret 'secret': SECRET:KEY"),
    (["--for", "argo-rollouts", "--provider", "web", "--check", "drift", *BASE,
      "--analysis-url", "http://a:1", "--token-secret", "Bad_Name:token"],
     r"--token-secret: 'Bad_Name' is not a Kubernetes object name"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url", "http://a:1",
      "--evidence-name", "../etc/passwd"], r"--evidence-name '../etc/passwd': a file name"),
    (["--for", "flagger", "--check", "drift", *BASE, "--analysis-url", "http://a:1",
      "--webhook-token", "two\nlines"], r"--webhook-token: one line of printable ASCII"),
    (["--for", "flagger", "--check", "drift", "--app", "churn", "--prometheus",
      "http://prometheus:9090/api/v1/query"], r"--prometheus: .* ends in the API's own path"),
    (["--for", "flagger", "--check", "drift", "--app", "churn", "--prometheus",
      "http://p:9090/{x}"], r"--prometheus: the address has characters"),
    (["--for", "flagger", "--check", "drift", *BASE, "--interval", "0.5s"],
     r"--interval '0.5s': at least 1 s"),
    (["--for", "flagger", "--check", "drift", *BASE, "--query", "nope=up"],
     r"--query 'nope=up': CHECK=PROMQL for a built-in check"),
])
def test_bad_input_is_exit_2_naming_it_and_writes_nothing(capsys, tmp_path: Path, args,
                                                          message) -> None:
    out_file = tmp_path / "analysis.yaml"
    code, out, err = run(capsys, *args, "--output", str(out_file))
    assert code == 2, err
    assert out == "" and not out_file.exists()
    # click's usage lines come before its error; mlgate's own errors are one line
    error = (err.split("Error: ", 1)[-1] if "Usage:" in err else err).strip()
    assert re.search(message, error) and "\n" not in error.split(". Choose from")[0], err
    assert "Traceback" not in err


def test_a_password_in_the_server_url_is_refused_without_echoing_it(capsys) -> None:
    code, out, err = run(capsys, "--for", "flagger", "--check", "drift", *BASE,
                         "--analysis-url", "http://user:hunter2@a:8080")
    assert code == 2 and "no user name or password" in err
    assert "hunter2" not in err + out


def test_a_token_in_place_of_the_placeholder_is_refused_without_echoing_it(capsys) -> None:
    token = "3f9a0c1b2d4e5f60718293a4b5c6d7e8"
    code, out, err = run(capsys, "--for", "flagger", "--check", "drift", *BASE,
                         "--analysis-url", "http://a:1", "--webhook-token", token)
    assert code == 2 and "looks like the token itself" in err
    assert token not in err + out
    code, out, err = run(capsys, "--for", "flagger", "--check", "drift", *BASE,
                         "--analysis-url", "http://a:1", "--webhook-token", "$(TOKEN)")
    assert code == 0 and "token: $(TOKEN)" in out


def test_the_evidence_gives_max_drop_its_floor_and_the_model_version(capsys, tmp_path):
    evidence = tmp_path / "benchmark.json"
    evidence.write_text(json.dumps({"command": "benchmark", "result": {
        "candidate": {"name": "churn", "version": "12"},
        "metrics": [{"name": "accuracy", "candidate": 0.9, "champion": 0.88}]}}))
    query = 'name=v,query=max(m{v="{model_version}"}),max=1'
    code, out, err = run(capsys, "--for", "argo-rollouts", "--check", "accuracy:max-drop=5%",
                         "--check", query, "--evidence", str(evidence), *BASE)
    assert code == 0, err
    (doc,) = yaml.safe_load_all(out)
    accuracy, version = doc["spec"]["metrics"]
    assert accuracy["failureCondition"] == "any(result, {# < 0.855})"
    assert version["provider"]["prometheus"]["query"] == 'max(m{v="12"})'
    code, out, err = run(capsys, "--for", "argo-rollouts", "--check", "accuracy:max-drop=5%",
                         "--evidence", str(tmp_path / "missing.json"), *BASE)
    assert code == 2 and "--evidence" in err and out == ""
