"""How the parent reads the Rego child's answers, exactly: a child that died (a signal, an exit
code, regopy missing) named with the policies' folders, the compiler's error chosen and placed,
an unknown function's line, and each shape a rule's value can take as a finding."""

from __future__ import annotations

import pytest

from mlgate.comply.policies import Policies, PolicyFile
from mlgate.comply.rego import (
    Finding,
    Subject,
    _answer,
    _compile_message,
    _findings,
    _folders,
    _message,
    _unknown_function,
)
from mlgate.errors import BadInput, ServiceError

SOURCE = "package main\nimport rego.v1\ndeny contains msg if {\n  msg := \"x\"\n}\n"


def policies(*paths, source=SOURCE):
    return Policies(tuple(PolicyFile(p, "main", "0" * 64, ("deny",), source) for p in paths))


def failed(call, *args, error=ServiceError) -> str:
    with pytest.raises(error) as err:
        call(*args)
    return str(err.value)


def test_a_child_that_died_is_named_with_the_policies():
    pol = policies("pol/a.rego", "pol/sub/b.rego")
    assert failed(_answer, -6, b"", b"terminate called\n\n", pol) == (
        "the Rego engine (rego-cpp) stopped with signal SIGABRT on the policies in pol, pol/sub: "
        "terminate called (a construct it cannot evaluate)")
    assert failed(_answer, 1, b"", b"Traceback\nValueError: boom\n", pol) == (
        "the Rego engine (rego-cpp) stopped with exit code 1 on the policies in pol, pol/sub: "
        "ValueError: boom (a construct it cannot evaluate)")
    assert failed(_answer, 2, b"", b"", pol) == (
        "the Rego engine (rego-cpp) stopped with exit code 2 on the policies in pol, pol/sub: "
        "no message (a construct it cannot evaluate)")
    assert failed(_answer, 1, b"", b"ModuleNotFoundError: No module named 'regopy'\n", pol) == (
        "regopy is not installed: pip install 'mlgate[comply]'")


def test_folders_are_listed_up_to_five():
    assert _folders(policies("a.rego")) == "."
    five = policies(*(f"d{i}/p.rego" for i in range(5)))
    assert _folders(five) == "d0, d1, d2, d3, d4"
    six = policies(*(f"d{i}/p.rego" for i in range(6)))
    assert _folders(six) == "d0, d1, d2, d3, d4 …"


def test_the_compilers_innermost_error_is_the_one_shown():
    pol = policies("pol/a.rego")
    assert _compile_message([
        {"file": None, "offset": 90, "message": "no file"},
        {"file": "pol/a.rego", "offset": 13, "message": "outer"},
        {"file": "pol/a.rego", "offset": 40, "message": "inner  \n  bracket"},
        {"file": "pol/a.rego", "offset": 20, "message": "middle"},
    ], pol) == "policy pol/a.rego:3:13: does not compile: inner bracket"
    assert _compile_message([{"file": "pol/a.rego", "offset": None, "message": "a"},
                             {"file": "pol/a.rego", "offset": 1, "message": "b"}],
                            pol) == "policy pol/a.rego:1:2: does not compile: b"
    assert _compile_message([{"file": "elsewhere.rego", "offset": 3, "message": "m"}],
                            pol) == "policy does not compile: m"
    assert _compile_message([{"file": None, "offset": None}], pol) == "policy does not compile: "
    long = _compile_message([{"file": None, "offset": None, "message": "w " * 400}], pol)
    assert long == "policy does not compile: " + ("w " * 150)[:300]


def test_an_unknown_functions_line_counts_a_leading_blank_line():
    pol = policies("pol/a.rego", source="\npackage main\nx := nope.fn(1)\n")
    assert _unknown_function("nope.fn", pol) == (
        "policy pol/a.rego:3: does not compile: unknown function nope.fn")
    assert _unknown_function("other", pol) == "policy does not compile: unknown function other"


def test_each_shape_of_value_as_findings():
    subject = Subject({"kind": "X"}, "a.yaml", 4, "X/x")
    assert _findings(False, "main", "deny_a_b", subject) == []
    assert _findings(None, "main", "deny", subject) == []
    assert _findings({"m1": True}, "main", "warn_x", subject) == [
        Finding("warn", "warn_x", "main", "m1", None, "a.yaml", 4, "X/x")]
    assert _findings("one", "main", "violation_y", subject) == [
        Finding("violation", "violation_y", "main", "one", None, "a.yaml", 4, "X/x")]


def test_each_shape_of_message():
    assert _message(["msg", 1]) == ('["msg", 1]', None)
    assert _message({"msg": {"a": 1}}) == ('{"a": 1}', None)
    assert _message({"msg": None, "k": 2}) == ("null", {"k": 2})
    assert _message(5) == ("5", None)
    assert _message({"b": 1, "a": 2}) == ('{"a": 2, "b": 1}', None)
    assert _message("x" * 3000) == ("x" * 2000, None)


def test_an_answer_that_is_not_one():
    pol = policies("pol/a.rego")
    assert failed(_answer, 0, b"[1, 2]", b"", pol) == "the Rego engine gave no readable answer"
    assert failed(_answer, 0, b"{nope", b"last words\n", pol).endswith(" last words")
    assert failed(_answer, 0, b'{"error": {"kind": "compile", "errors": [{"file": null, '
                  b'"offset": null, "message": "bad"}]}}', b"", pol,
                  error=BadInput) == "policy does not compile: bad"
    assert failed(_answer, 0, b'{"error": {"kind": "eval", "entrypoint": "main/deny", '
                  b'"message": "Function not found: my.fn"}}', b"", pol,
                  error=BadInput) == "policy does not compile: unknown function my.fn"
    assert failed(_answer, 0, b'{"error": {"kind": "eval", "entrypoint": "main/deny", '
                  b'"message": "' + b"e" * 600 + b'"}}', b"", pol) == (
        "policy rule main.deny failed to evaluate: " + "e" * 500)


def test_a_child_whose_words_are_not_utf8_or_long():
    pol = policies("pol/a.rego")
    said = failed(_answer, 1, b"", b"\xff\xfe broken\n" + b"y" * 400 + b"\n", pol)
    assert said == ("the Rego engine (rego-cpp) stopped with exit code 1 on the policies in pol: "
                    + "y" * 300 + " (a construct it cannot evaluate)")
    assert "\ufffd broken" in failed(_answer, 1, b"", b"\xff\xfe broken\n", pol)
    assert failed(_answer, -200, b"", b"", pol) == (
        "the Rego engine (rego-cpp) stopped with exit code -200 on the policies in pol: "
        "no message (a construct it cannot evaluate)")


def test_an_unreadable_answer_is_named():
    pol = policies("pol/a.rego")
    assert failed(_answer, 0, b"{nope", b"last words\n", pol) == (
        "the Rego engine's answer:1: invalid JSON: Expecting property name enclosed in double "
        "quotes last words")


def test_the_child_runs_this_mlgate_and_keeps_its_words(monkeypatch):
    """The child imports the same mlgate as the parent (its folder first on PYTHONPATH, the
    caller's path kept after it), and its answer and complaints go to files, not to pipes
    nobody reads."""
    import os

    import mlgate
    import mlgate.comply.rego as rego

    seen = []

    class Popen:
        def __init__(self, argv, **kw):
            seen.append((argv, kw))
            raise OSError("stop here")

    monkeypatch.setattr(rego.subprocess, "Popen", Popen)
    here = os.path.dirname(os.path.dirname(os.path.abspath(mlgate.__file__)))
    for given, want in (("/x:/y", f"{here}{os.pathsep}/x:/y"), (None, here)):
        if given is None:
            monkeypatch.delenv("PYTHONPATH", raising=False)
        else:
            monkeypatch.setenv("PYTHONPATH", given)
        with pytest.raises(OSError):
            rego.Evaluation(policies("pol/a.rego"), {})
        argv, kw = seen[-1]
        assert argv[1:] == ["-m", "mlgate.comply.rego_worker"]
        assert kw["env"]["PYTHONPATH"] == want
        assert kw["stdin"] == rego.subprocess.PIPE
        assert hasattr(kw["stdout"], "fileno") and hasattr(kw["stderr"], "fileno")
        assert kw["stdout"] is not kw["stderr"]


def test_the_input_as_json_and_what_json_cannot_hold():
    import datetime

    from mlgate.comply.rego import _meta, _term

    assert _meta({"app": "a"}, None) == {"app": "a"}
    assert _meta({"app": "a"}, "f.yaml") == {"app": "a", "file": "f.yaml"}
    assert _term({"d": datetime.date(2026, 1, 2), "k": "é"}) == '{"d": "2026-01-02", "k": "é"}'
    for bad in (float("nan"), float("inf")):
        assert failed(_term, {"x": bad}, "apps/a.yaml:3", error=BadInput) == (
            "apps/a.yaml:3: a value is .nan or .inf, which the policies' input (JSON) cannot "
            "hold")


def test_a_manifest_with_nan_is_bad_input_naming_it(remote, tmp_path, capsys):
    from support.auditrepo import hand_commit

    from tests.unit.comply.conftest import comply, refs, write_policy

    hand_commit(remote, tmp_path, "nan",
                files={"apps/churn/production/odd.yaml": "kind: X\nratio: .nan\n"})
    write_policy(tmp_path / "pol", "p.rego", "package main\nimport rego.v1\n"
                 "deny contains \"x\" if { false }\n")
    before = refs(remote)
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 2
    assert capsys.readouterr().err.strip().endswith(
        "apps/churn/production/odd.yaml:1: a value is .nan or .inf, which the policies' input "
        "(JSON) cannot hold")
    assert refs(remote) == before


def test_a_release_value_json_cannot_hold_names_the_release():
    from mlgate.comply.rego import _term, _where

    assert failed(_term, {"x": float("nan")}, _where(Subject({})), error=BadInput) == (
        "the release: a value is .nan or .inf, which the policies' input (JSON) cannot hold")
    assert _where(Subject({}, "a.yaml", 7)) == "a.yaml:7"
