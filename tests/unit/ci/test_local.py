"""The terminal rendering: readable, plain in logs, coloured only on a terminal, no secrets."""

from __future__ import annotations

import io
import subprocess
import sys

from mlgate.ci.local import LocalEmitter
from mlgate.report.presentation import Annotation, Presentation, Section, Table


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def pres(**kw) -> Presentation:
    base = dict(command="benchmark", title="Benchmark", verdict="passed", exit_code=0, outputs={})
    base.update(kw)
    return Presentation(**base)


def test_plain_output_when_not_a_terminal(capsys):
    p = pres(
        outputs={"winner": "candidate", "delta": "0.031"},
        table=Table(("Metric", "Champion", "Candidate"), (("accuracy", "0.91", "0.94"),)),
    )
    LocalEmitter({}).emit(p)
    out = capsys.readouterr().out
    assert "\x1b" not in out
    for text in ("Benchmark", "Verdict: passed", "Metric", "accuracy", "0.94", "winner",
                 "candidate", "delta", "0.031"):  # fmt: skip
        assert text in out


def test_force_color_in_the_environment_does_not_colour_a_log(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    LocalEmitter({"FORCE_COLOR": "1"}).emit(pres())
    assert "\x1b" not in capsys.readouterr().out


def test_verdict_colours_on_a_terminal():
    passed, failed = FakeTTY(), FakeTTY()
    LocalEmitter({}, out=passed).emit(pres())
    LocalEmitter({}, out=failed).emit(pres(verdict="failed", exit_code=1))
    assert "\x1b[" in passed.getvalue() and "\x1b[" in failed.getvalue()
    assert "32m" in passed.getvalue()  # green
    assert "31m" in failed.getvalue()  # red


def test_no_color_is_respected_on_a_terminal():
    out = FakeTTY()
    LocalEmitter({"NO_COLOR": "1"}, out=out).emit(pres(verdict="failed", exit_code=1))
    assert "31m" not in out.getvalue()


def test_secrets_are_replaced(capsys):
    secret = "sk-live-0123456789"
    p = pres(
        title=f"using {secret}",
        outputs={"token": secret},
        table=Table(("k",), ((f"x{secret}x",),)),
        sections=(Section("Log", f"auth {secret}"),),
        annotations=(Annotation(level="error", message=secret),),
        secrets=(secret,),
    )
    LocalEmitter({}).emit(p)
    out = capsys.readouterr().out
    assert secret not in out
    assert "***" in out


def test_untrusted_text_cannot_drive_the_terminal(capsys):
    p = pres(
        title="[bold red]fake[/] :smile:",
        table=Table(("file",), (("evil\x1b[2J\x1b]0;title\x07.yaml",),)),
        outputs={"o": "\x1b[31mred"},
    )
    LocalEmitter({}).emit(p)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "[bold red]fake[/] :smile:" in out
    assert "\\x1b[2J" in out


def test_sections_print_as_text_and_folded_ones_are_shortened(capsys):
    diff = "--- a\n+++ b\n-old\n+new"
    long = "\n".join(f"finding {i}" for i in range(100))
    LocalEmitter({}).emit(pres(sections=(Section("Diff", diff), Section("All", long, fold=True))))
    out = capsys.readouterr().out
    assert "-old\n+new\n" in out
    assert "finding 19" in out and "finding 20" not in out
    assert "80 more lines" in out


def test_annotations_are_listed(capsys):
    anns = tuple(Annotation(level="warning", message=f"m{i}", file="a.yaml", line=i + 1)
                 for i in range(60))  # fmt: skip
    LocalEmitter({}).emit(pres(annotations=anns))
    out = capsys.readouterr().out
    assert "warning a.yaml:1 m0" in out
    assert "10 more" in out


def test_importing_the_ci_package_does_not_import_rich():
    code = (
        "import sys, mlgate.ci.emit, mlgate.ci.github, mlgate.ci.gitlab, mlgate.ci.local, "
        "mlgate.ci.detect, mlgate.report.markdown; "
        "assert 'rich' not in sys.modules, 'rich imported at module level'"
    )
    env = {"PYTHONPATH": ":".join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
