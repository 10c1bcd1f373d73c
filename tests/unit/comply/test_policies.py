"""Rego policies with real regopy over the manifests the promotion's rewrite would leave, and
over the release; the attacks a policy author (or a hostile one) could make."""

from __future__ import annotations

import json

from tests.unit.comply.conftest import (
    IMG,
    KUSTOMIZATION,
    comply,
    findings,
    refs,
    write_policy,
)

NEW_TAG = """
    package main
    import rego.v1

    deny_new_tag contains msg if {
      input.kind == "Kustomization"
      some img in input.images
      img.newTag == "v1.5.0"
      msg := sprintf("%s would run %s:%s", [data.mlgate.environment, img.name, img.newTag])
    }

    deny_old_tag contains "still v1.4.0" if {
      some img in input.images
      img.newTag == "v1.4.0"
    }
"""


def test_a_policy_judges_the_manifests_after_the_rewrite_and_nothing_is_written(
        remote, tmp_path):
    write_policy(tmp_path / "pol", "tags.rego", NEW_TAG)
    before = refs(remote)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 1
    assert findings(doc) == [("deny", "main", "deny_new_tag", KUSTOMIZATION, 1,
                              f"production would run {IMG}:v1.5.0")]
    result = doc["result"]
    assert result["changed_files"] == [KUSTOMIZATION]
    assert result["files"] == 2 and result["manifests"] == 2
    assert result["folder"] == "apps/churn/production"
    assert doc["verdict"] == "failed: 1 policy violation(s)"
    assert doc["outputs"]["deny"] == "1" and doc["outputs"]["passed"] == "false"
    assert refs(remote) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comply.json", "config.git", "pol"]


def test_the_image_already_live_passes(remote, tmp_path):
    write_policy(tmp_path / "pol", "tags.rego", NEW_TAG.replace('"v1.4.0"', '"v0"'))
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       image=f"{IMG}:v1.4.0")
    assert code == 0, doc
    assert findings(doc) == []
    assert doc["outputs"] == {"passed": "true", "deny": "0", "warn": "0",
                              "documents-failed": "0",
                              "policies-sha256": doc["result"]["policies_sha256"], "junit": ""}


def test_every_shape_of_message_conftest_accepts(remote, tmp_path):
    write_policy(tmp_path / "pol", "shapes.rego", """
        package main
        import rego.v1

        deny contains "a plain string" if input.kind == "Kustomization"

        violation contains {"msg": "an object", "severity": "high", "owner": "ml-platform"} if {
          input.kind == "Kustomization"
        }

        warn_labels contains sprintf("%s has no labels", [input.kind]) if not input.metadata.labels

        deny_complete := "a complete rule" if input.kind == "InferenceService"

        denylist := ["not", "a", "rule"]
        helper_deny := "not a rule either"
    """)
    write_policy(tmp_path / "pol", "old.rego", """
        package main

        deny_v0[msg] {
          input.kind == "InferenceService"
          msg := "the Rego v0 form"
        }
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 1
    iservice = "apps/churn/production/model-version.yaml"
    got = {(f["kind"], f["rule"], f["file"], f["message"], json.dumps(f["details"]))
           for f in doc["result"]["findings"]}
    assert got == {
        ("deny", "deny", KUSTOMIZATION, "a plain string", "null"),
        ("violation", "violation", KUSTOMIZATION, "an object",
         json.dumps({"owner": "ml-platform", "severity": "high"})),
        ("warn", "warn_labels", KUSTOMIZATION, "Kustomization has no labels", "null"),
        ("warn", "warn_labels", iservice, "InferenceService has no labels", "null"),
        ("deny", "deny_complete", iservice, "a complete rule", "null"),
        ("deny", "deny_v0", iservice, "the Rego v0 form", "null"),
    }
    assert doc["outputs"]["deny"] == "4" and doc["outputs"]["warn"] == "2"
    rules = {p["path"].rsplit("/", 1)[1]: p["rules"] for p in doc["result"]["policies"]}
    assert rules == {"old.rego": ["deny_v0"],
                     "shapes.rego": ["deny", "deny_complete", "violation", "warn_labels"]}


def test_warnings_alone_pass(remote, tmp_path):
    write_policy(tmp_path / "pol", "w.rego", """
        package main
        import rego.v1
        warn contains "just saying" if input.kind
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 0
    assert doc["outputs"]["warn"] == "2" and doc["outputs"]["passed"] == "true"


def test_namespaces_as_conftest_takes_them(remote, tmp_path):
    write_policy(tmp_path / "pol", "main.rego", """
        package main
        import rego.v1
        deny contains "from main" if input.kind == "Kustomization"
    """)
    write_policy(tmp_path / "pol", "k8s.rego", """
        package policies.k8s
        import rego.v1
        deny contains "from policies.k8s" if input.kind == "Kustomization"
    """)
    write_policy(tmp_path / "pol", "own.rego", """
        package mlgate.manifest
        import rego.v1
        deny contains "from mlgate.manifest" if input.kind == "Kustomization"
    """)
    _, default = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert {f[5] for f in findings(default)} == {"from main", "from mlgate.manifest"}
    _, chosen = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       "--namespace", "policies.k8s")
    assert {f[5] for f in findings(chosen)} == {"from policies.k8s", "from mlgate.manifest"}
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                     "--namespace", "bad name")
    assert code == 2


def test_data_mlgate_names_each_file(remote, tmp_path):
    write_policy(tmp_path / "pol", "file.rego", """
        package mlgate.manifest
        import rego.v1
        warn contains sprintf("%s %s %s %s", [data.mlgate.app, data.mlgate.environment,
                                               data.mlgate.folder, data.mlgate.file]) if true
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 0
    assert sorted(f[5] for f in findings(doc)) == [
        "churn production apps/churn/production apps/churn/production/kustomization.yaml",
        "churn production apps/churn/production apps/churn/production/model-version.yaml",
    ]


def test_a_release_policy_reads_the_gates_evidence(remote, tmp_path):
    bench = tmp_path / "benchmark.json"
    bench.write_text(json.dumps({
        "command": "benchmark", "verdict": "passed", "exit_code": 0, "title": "b",
        "result": {"candidate": {"uri": "models:/churn/8", "name": "churn", "version": "8"},
                   "metrics": [{"name": "accuracy", "candidate": 0.71}]}}))
    write_policy(tmp_path / "pol", "release.rego", """
        package mlgate.release
        import rego.v1

        deny contains msg if {
          some m in input.gates.benchmark.result.metrics
          m.name == "accuracy"
          m.candidate < 0.75
          msg := sprintf("accuracy %v below 0.75 for model %s version %s in %s",
                         [m.candidate, input.model.name, input.model.version, input.environment])
        }
        deny contains "no scan result" if input.gates.scan == null
        deny contains "validate given" if input.gates.validate != null
        warn contains sprintf("image %s tag %s", [input.image.repository, input.image.tag]) if true
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       "--evidence", str(bench))
    assert code == 1
    assert sorted((f[0], f[3], f[5]) for f in findings(doc)) == [
        ("deny", None, "accuracy 0.71 below 0.75 for model churn version 8 in production"),
        ("deny", None, "no scan result"),
        ("warn", None, f"image {IMG} tag v1.5.0"),
    ]
    assert doc["result"]["model_version"] == "8"
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       "--evidence", str(bench), "--model-version", "9")
    assert "version 9" in findings(doc)[0][5]
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                     "--evidence", str(bench), "--evidence", str(bench))
    assert code == 2


def test_a_policy_that_does_not_compile_is_bad_input(remote, tmp_path, capsys):
    bad = write_policy(tmp_path / "pol", "bad.rego", """
        package main
        import rego.v1

        deny contains msg if {
          msg :=
        }
    """)
    before = refs(remote)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"mlgate comply: error: policy {bad}:5:")
    assert "does not compile" in err[0]
    assert refs(remote) == before


def test_an_unknown_function_is_found_with_its_line(remote, tmp_path, capsys):
    bad = write_policy(tmp_path / "pol", "fn.rego", """
        package main
        import rego.v1

        deny contains "x" if {
          input.kind == "Kustomization"
          no_such_function(input)
        }
    """)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"mlgate comply: error: policy {bad}:6: does not compile: unknown function "
        "no_such_function")


def test_a_rule_with_two_values_is_a_query_error(remote, tmp_path, capsys):
    write_policy(tmp_path / "pol", "conflict.rego", """
        package main
        import rego.v1
        deny := "one" if input.kind
        deny := "two" if input.kind
    """)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlgate comply: error: policy rule main.deny failed to evaluate: ")
    assert "multiple outputs" in err


def test_a_policy_that_runs_too_long_is_stopped(remote, tmp_path, capsys):
    write_policy(tmp_path / "pol", "slow.rego", """
        package main
        import rego.v1
        deny contains "slow" if {
          count([x | some x in numbers.range(1, 500000000)]) == 0
        }
    """)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"), "--timeout", "2")
    assert code == 3
    assert "did not finish within 2 s" in capsys.readouterr().err


def test_policy_folders_that_hold_no_policy(remote, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    write_policy(tmp_path / "tests-only", "x_test.rego", "package main\n")
    write_policy(tmp_path / "nopkg", "a.rego", "# no package\ndeny := 1\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "b.rego").write_bytes(b"package main\n\xff\xfe")
    for folder, says in [("missing", "no such folder"), ("empty", "no .rego policy"),
                         ("tests-only", "no .rego policy"), ("nopkg", "no 'package'"),
                         ("bin", "UTF-8")]:
        code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / folder))
        assert code == 2, folder
        err = capsys.readouterr().err.strip()
        assert says in err and err.count("\n") == 0, err


def test_test_files_are_left_out(remote, tmp_path):
    write_policy(tmp_path / "pol", "p.rego", NEW_TAG)
    write_policy(tmp_path / "pol", "p_test.rego", """
        package main
        import rego.v1
        test_nothing if { true }
        deny contains "from a test file" if true
    """)
    _, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert [p["path"].rsplit("/", 1)[1] for p in doc["result"]["policies"]] == ["p.rego"]


def test_the_policies_hash_changes_with_any_policy(remote, tmp_path):
    write_policy(tmp_path / "pol", "p.rego", NEW_TAG)
    _, first = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    _, again = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    write_policy(tmp_path / "pol", "p.rego", NEW_TAG + "\n# a comment\n")
    _, edited = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert first["result"]["policies_sha256"] == again["result"]["policies_sha256"]
    assert first["result"]["policies_sha256"] != edited["result"]["policies_sha256"]
    assert len(edited["result"]["policies_sha256"]) == 64


def test_hostile_messages_stay_text(remote, tmp_path):
    import xml.etree.ElementTree as ET

    from mlgate.report.comply import markdown_policies

    write_policy(tmp_path / "pol", "h.rego", """
        package main
        import rego.v1
        deny contains "| x | ![img](http://evil/) <script>\\n::error::forged" if input.kind
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"),
                       "--junit", str(tmp_path / "j.xml"))
    assert code == 1
    xml = (tmp_path / "j.xml").read_text()
    root = ET.fromstring(xml)
    assert root.get("failures") == "2"
    assert "<script>" not in xml
    result = doc["result"]
    assert result["findings"][0]["message"].startswith("| x |")
    md = markdown_policies(_result_from(doc))
    assert "| x |" in doc["result"]["findings"][0]["message"]
    assert "\\| x \\|" in md and "<script>" not in md and "\n::error" not in md
    assert "!\\[img\\]" in md


def _result_from(doc):
    from mlgate.comply.rego import Finding
    from mlgate.comply.result import ComplyResult, PolicyInfo

    r = doc["result"]
    return ComplyResult(
        app=r["app"], environment=r["environment"], folder=r["folder"],
        config_commit=r["config_commit"], images=tuple(r["images"]),
        model_version=r["model_version"],
        policies=(PolicyInfo("h.rego", "main", "0" * 64, ("deny",)),), policies_sha256="",
        namespaces=tuple(r["namespaces"]), files=r["files"], manifests=r["manifests"],
        changed_files=tuple(r["changed_files"]),
        findings=tuple(Finding(**f) for f in r["findings"]), documents=())


def test_a_value_rego_cpp_cannot_write_as_json_is_a_query_error(remote, tmp_path, capsys):
    # rego-cpp 1.5 quotes another rule's string inside sprintf's %s, and its own JSON then
    # breaks: the gate must say so (exit 3), not crash or pass
    write_policy(tmp_path / "pol", "q.rego", """
        package main
        import rego.v1
        name := concat(", ", ["churn", "fraud"])
        deny contains sprintf("app %s", [name]) if input.kind == "Kustomization"
    """)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 3
    assert capsys.readouterr().err.strip() == (
        "mlgate comply: error: policy rule main.deny failed to evaluate: rego-cpp returned a "
        "value that is not JSON")


def test_a_value_nested_too_deeply_is_refused_not_a_crash(remote, tmp_path, capsys):
    deep = '{"a": ' * 150 + '"x"' + "}" * 150
    write_policy(tmp_path / "pol", "deep.rego", f"""
        package main
        import rego.v1
        deny contains {deep} if input.kind == "Kustomization"
    """)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert "nested more than 100 levels" in err and err.count("\n") == 0, err
