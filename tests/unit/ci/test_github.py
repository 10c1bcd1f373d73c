"""The GitHub emitter, checked against the runner's own parsing rules.

`parse_output_file` and `parse_command` follow actions/runner (FileCommandManager's heredoc
reader on Linux, ActionCommand.TryParseV2 / TryParse) so that "cannot inject" is tested the
way GitHub would read the bytes, not the way we hope it would.
"""

from __future__ import annotations

import io
import itertools
import re

import pytest

from mlgate.ci import github
from mlgate.ci.github import (
    ANNOTATIONS_PER_LEVEL,
    SUMMARY_LIMIT,
    GitHubEmitter,
    annotation_command,
    annotation_commands,
    escape_data,
    escape_property,
    heredoc,
    mask_commands,
    neutralize,
    write_outputs,
)
from mlgate.escape import escape_markdown
from mlgate.report.markdown import TRUNCATION_NOTE, fit_summary, render_summary
from mlgate.report.presentation import Annotation, Presentation, Section, Table

REGISTERED = {
    "set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher",
    "remove-matcher", "debug", "warning", "error", "notice", "group", "endgroup", "echo",
    "stop-commands",
}  # fmt: skip


# --------------------------------------------------------------------------- runner mirrors


def parse_output_file(text: str) -> list[tuple[str, str]]:
    """$GITHUB_OUTPUT as the runner reads it (Linux: lines end at '\\n')."""
    pairs = []
    lines = text.split("\n")
    # A trailing '\n' leaves one empty string that is not a line.
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, hd = line.find("="), line.find("<<")
        if eq >= 0 and (hd < 0 or eq < hd):
            key, value = line.split("=", 1)
            pairs.append((key, value))
            continue
        assert hd >= 0, f"invalid line {line!r}"
        key, delimiter = line.split("<<", 1)
        assert key and delimiter
        value_lines = []
        while True:
            assert i < len(lines), f"delimiter {delimiter!r} not found"
            if lines[i] == delimiter:
                i += 1
                break
            value_lines.append(lines[i])
            i += 1
        pairs.append((key, "\n".join(value_lines)))
    return pairs


def unescape(text: str, mappings: list[tuple[str, str]]) -> str:
    for token, replacement in mappings:
        text = text.replace(replacement, token)
    return text


DATA_MAP = [("\r", "%0D"), ("\n", "%0A"), ("%", "%25")]
PROP_MAP = [("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")]


def parse_command(line: str) -> tuple[str, dict[str, str], str] | None:
    """A workflow command as the runner finds it in one log line (V2, then legacy V1)."""
    msg = line.lstrip()
    if msg.startswith("::"):
        end = msg.find("::", 2)
        if end >= 0:
            info = msg[2:end]
            name, _, props = info.partition(" ")
            if name in REGISTERED:
                properties = {}
                for prop in props.strip().split(","):
                    key, sep, value = prop.partition("=")
                    if sep and key and value:
                        properties[key] = unescape(value, PROP_MAP)
                return name, properties, unescape(msg[end + 2 :], DATA_MAP)
    start = line.find("##[")
    if start >= 0:
        close = line.find("]", start)
        if close >= 0:
            name = line[start + 3 : close].split(" ")[0]
            if name in REGISTERED:
                return name, {}, line[close + 1 :]
    return None


def commands_in(text: str) -> list[tuple[str, dict[str, str], str]]:
    return [c for c in (parse_command(line) for line in text.split("\n")) if c]


def pres(**kw) -> Presentation:
    base = dict(command="rewrite", title="Rewrite", verdict="passed", exit_code=0, outputs={})
    base.update(kw)
    return Presentation(**base)


def gh_env(tmp_path, **extra) -> dict[str, str]:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    env.update(extra)
    return env


# --------------------------------------------------------------------------- outputs


def test_outputs_round_trip_as_the_runner_reads_them(tmp_path):
    outputs = {"changed": "true", "files": '["a.yaml", "b.yaml"]', "empty": "", "nl": "\n"}
    path = tmp_path / "output"
    write_outputs(str(path), outputs)
    assert parse_output_file(path.read_text(encoding="utf-8")) == list(outputs.items())


def test_values_cannot_inject_other_outputs(tmp_path):
    evil = {
        "a": "x\nchanged=false\ninjected<<EOF\nboom\nEOF",
        "b": "line\n::set-output name=changed::false\n##[set-output name=changed;]false",
        "c": "ghadelimiter_\nghadelimiter_00000000000000000000000000000000\nz<<ghadelimiter_1",
        "d": "trailing newline\n\n",
        "e": "crlf\r\nvalue\r\n",
    }
    path = tmp_path / "output"
    path.write_text("earlier=1\n", encoding="utf-8")  # another step's line stays untouched
    write_outputs(str(path), evil)
    # Bytes, not read_text(): universal newlines would hide a '\r' the runner keeps.
    assert parse_output_file(path.read_bytes().decode("utf-8")) == [
        ("earlier", "1"),
        *evil.items(),
    ]


def test_delimiter_is_redrawn_when_the_value_contains_it():
    draws = iter(["aa" * 16, "bb" * 16])
    value = f"prefix\nghadelimiter_{'aa' * 16}\nsuffix"
    block = heredoc("out", value, token=lambda n: next(draws))
    assert block == f"out<<ghadelimiter_{'bb' * 16}\n{value}\nghadelimiter_{'bb' * 16}\n"
    assert parse_output_file(block) == [("out", value)]


def test_each_value_gets_its_own_random_delimiter(tmp_path):
    path = tmp_path / "output"
    write_outputs(str(path), {"a": "1", "b": "2"})
    headers = [ln for ln in path.read_text().split("\n") if "<<" in ln]
    delimiters = {h.split("<<", 1)[1] for h in headers}
    assert len(delimiters) == 2
    assert all(re.fullmatch(r"ghadelimiter_[0-9a-f]{32}", d) for d in delimiters)


@pytest.mark.parametrize("name", ["", "a<<b", "a=b", "a\nb", "1abc", "a b", "a:b"])
def test_bad_output_names_are_refused(name):
    with pytest.raises(ValueError):
        heredoc(name, "v")


def test_outputs_are_skipped_quietly_without_github_output(tmp_path, capsys):
    env = {"GITHUB_ACTIONS": "true"}
    GitHubEmitter(env).emit(pres(outputs={"changed": "true"}))
    out = capsys.readouterr()
    assert "changed" not in out.err
    assert list(tmp_path.iterdir()) == []


def test_emitter_writes_outputs_and_a_human_line(tmp_path, capsys):
    env = gh_env(tmp_path)
    GitHubEmitter(env).emit(pres(outputs={"changed": "true"}, verdict="changed"))
    assert parse_output_file((tmp_path / "output").read_text()) == [("changed", "true")]
    out = capsys.readouterr().out
    assert "mlgate rewrite: Rewrite — changed" in out.splitlines()


# --------------------------------------------------------------------------- escaping


def test_escape_data_and_property_follow_the_toolkit():
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_data("a::b,c:d") == "a::b,c:d"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_property("%3A") == "%253A"  # no double meaning after unescaping


def test_annotation_round_trips_through_the_runner_parser():
    a = Annotation(
        level="error",
        message="line one\nline two 100% ::done",
        file="dir/a,b:c.yaml",
        line=12,
        title="bad: thing, really",
    )
    line = annotation_command(a, "mlgate rewrite")
    assert "\n" not in line
    assert parse_command(line) == (
        "error",
        {"file": "dir/a,b:c.yaml", "line": "12", "title": "bad: thing, really"},
        "line one\nline two 100% ::done",
    )


def test_annotation_without_file_or_title_gets_the_command_title():
    line = annotation_command(Annotation(level="warning", message="m"), "mlgate rewrite")
    assert line == "::warning title=mlgate rewrite::m"


# --------------------------------------------------------------------------- annotation cap


def _many(level: str, n: int) -> list[Annotation]:
    return [Annotation(level=level, message=f"{level} {i}") for i in range(n)]


def test_annotations_are_capped_at_ten_per_level_with_one_notice_for_the_rest():
    anns = _many("error", 15) + _many("warning", 3) + _many("notice", 12)
    cmds = [parse_command(line) for line in annotation_commands(anns, "scan-image")]
    levels = [c[0] for c in cmds]
    assert levels.count("error") == ANNOTATIONS_PER_LEVEL
    assert levels.count("warning") == 3
    assert levels.count("notice") == ANNOTATIONS_PER_LEVEL  # 9 findings + the overflow notice
    overflow = cmds[-1]
    assert overflow[0] == "notice"
    assert "8 more annotations" in overflow[2]
    assert "5 error" in overflow[2] and "3 notice" in overflow[2]
    assert [c[2] for c in cmds if c[0] == "error"] == [f"error {i}" for i in range(10)]


def test_exactly_ten_per_level_needs_no_overflow_notice():
    anns = _many("error", 10) + _many("warning", 10) + _many("notice", 10)
    lines = annotation_commands(anns, "x")
    assert len(lines) == 30
    assert not any("more annotations" in line for line in lines)


def test_overflow_of_notices_alone_still_fits_ten_notices():
    lines = annotation_commands(_many("notice", 11), "x")
    assert len(lines) == 10
    assert "2 more annotations" in lines[-1]


def test_emitter_prints_capped_annotations(tmp_path, capsys):
    GitHubEmitter(gh_env(tmp_path)).emit(pres(annotations=tuple(_many("warning", 25))))
    cmds = commands_in(capsys.readouterr().out)
    assert sum(1 for c in cmds if c[0] == "warning") == 10
    assert sum(1 for c in cmds if c[0] == "notice") == 1


# --------------------------------------------------------------------------- masking


def test_masks_come_before_anything_else_and_cover_each_line(tmp_path, capsys):
    key = "-----BEGIN KEY-----\nabc123def456\n\n   \n-----END KEY-----"
    p = pres(
        title="token s3cr3t-t0ken here",
        outputs={"url": "https://x:s3cr3t-t0ken@host/", "k": "abc123def456"},
        sections=(Section("S", "uses s3cr3t-t0ken"),),
        annotations=(Annotation(level="error", message="bad s3cr3t-t0ken"),),
        secrets=("s3cr3t-t0ken", key, "", "50%off"),
    )
    GitHubEmitter(gh_env(tmp_path)).emit(p)
    out = capsys.readouterr().out
    lines = out.splitlines()
    masks = [c[2] for c in commands_in(out) if c[0] == "add-mask"]
    assert set(masks) == {"s3cr3t-t0ken", "-----BEGIN KEY-----", "abc123def456",
                          "-----END KEY-----", "50%off"}  # fmt: skip
    assert all(line.startswith("::add-mask::") for line in lines[: len(masks)])
    assert not any(line.startswith("::add-mask::") for line in lines[len(masks) :])
    assert "::add-mask::50%25off" in lines
    rest = "\n".join(lines[len(masks) :])
    written = (tmp_path / "output").read_text() + (tmp_path / "summary").read_text()
    for text in (rest, written):
        assert "s3cr3t-t0ken" not in text
        assert "abc123def456" not in text
    assert ("url", "https://x:***@host/") in parse_output_file((tmp_path / "output").read_text())


# --------------------------------------------------------------------------- injection via text


def test_untrusted_text_cannot_become_a_workflow_command(tmp_path, capsys):
    nasty = "x\n::set-output name=changed::false\n  ::add-mask::x ##[stop-commands]tok ##[error]e"
    p = pres(
        title=nasty,
        verdict=nasty,
        annotations=(Annotation(level="notice", message=nasty, file=nasty, title=nasty),),
    )
    GitHubEmitter(gh_env(tmp_path)).emit(p)
    cmds = commands_in(capsys.readouterr().out)
    assert [c[0] for c in cmds] == ["notice"]
    assert cmds[0][2] == nasty and cmds[0][1]["file"] == nasty


def test_neutralize_makes_one_inert_line():
    text = neutralize("a\r\nb\n##[stop-commands]t ###[error]x")
    assert "\n" not in text and "\r" not in text
    assert "##[" not in text
    assert parse_command(text) is None


# --------------------------------------------------------------------------- summary


def test_summary_has_title_verdict_sections_folds_and_outputs(tmp_path):
    p = pres(
        title="Scan image",
        verdict="failed",
        exit_code=1,
        outputs={"critical": "2"},
        sections=(Section("Findings", "| a |\n| - |\n| 1 |"), Section("All", "long", fold=True)),
    )
    GitHubEmitter(gh_env(tmp_path)).emit(p)
    md = (tmp_path / "summary").read_text(encoding="utf-8")
    assert md.startswith("## Scan image\n")
    assert "❌ **failed**" in md
    assert "### Findings\n\n| a |" in md
    assert "<details><summary>All</summary>\n\nlong\n\n</details>" in md
    assert "| critical | 2 |" in md


def test_summary_appends_to_what_the_step_already_wrote(tmp_path):
    env = gh_env(tmp_path)
    (tmp_path / "summary").write_text("# earlier\n", encoding="utf-8")
    GitHubEmitter(env).emit(pres())
    assert (tmp_path / "summary").read_text().startswith("# earlier\n## Rewrite")


def test_summary_is_cut_to_one_mib_longest_section_first(tmp_path, capsys):
    huge = "€ multibyte line\n" * 100_000  # about 1.9 MB
    big = "b" * 300_000
    small = "small and whole"
    p = pres(
        sections=(Section("Huge", huge), Section("Small", small), Section("Big", big)),
    )
    GitHubEmitter(gh_env(tmp_path)).emit(p)
    data = (tmp_path / "summary").read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    text = data.decode("utf-8")  # strict: must be valid UTF-8
    assert "### Small\n\nsmall and whole\n" in text
    assert TRUNCATION_NOTE in text
    assert "<details><summary>Huge</summary>" in text
    assert text.count("€ multibyte line") < 100_000
    out = capsys.readouterr().out
    assert "truncated" in out and "JSON report" in out


def test_summary_budget_counts_earlier_content_in_the_step(tmp_path):
    (tmp_path / "summary").write_bytes(b"x" * (SUMMARY_LIMIT - 50_000))
    p = pres(sections=(Section("Big", "y" * 200_000),))
    GitHubEmitter(gh_env(tmp_path)).emit(p)
    assert (tmp_path / "summary").stat().st_size <= SUMMARY_LIMIT


def test_summary_is_skipped_when_the_file_is_already_full(tmp_path, capsys):
    (tmp_path / "summary").write_bytes(b"x" * SUMMARY_LIMIT)
    GitHubEmitter(gh_env(tmp_path)).emit(pres())
    assert (tmp_path / "summary").stat().st_size == SUMMARY_LIMIT
    assert "summary skipped" in capsys.readouterr().out


@pytest.mark.parametrize("limit", [3000, 4096, 10_000, 50_001])
def test_fit_summary_never_exceeds_the_limit_nor_splits_a_character(limit):
    sections = tuple(
        Section(f"S{i}", ("é€😀" * (i * 300)) + "\n```\ncode\n" * i, fold=i % 2 == 0)
        for i in range(1, 8)
    )
    md, truncated = fit_summary(pres(sections=sections), limit)
    data = md.encode("utf-8")
    assert truncated
    assert len(data) <= limit
    data.decode("utf-8")
    assert TRUNCATION_NOTE in md


def test_a_cut_inside_a_code_fence_closes_the_fence():
    body = "```diff\n" + "+added line\n" * 5000 + "```"
    p = pres(sections=(Section("Diff", body), Section("After", "x")))
    md, truncated = fit_summary(p, 20_000)
    assert truncated
    diff_part = md.split("<summary>Diff</summary>")[1].split("</details>")[0]
    assert diff_part.count("```") == 2
    assert "### After\n\nx\n" in md


def test_hard_cut_when_even_the_header_is_too_big():
    md, truncated = fit_summary(pres(sections=(Section("A", "a" * 1000),)), 60)
    assert truncated and len(md.encode()) <= 60


def test_render_summary_without_a_limit_is_whole():
    p = pres(sections=(Section("A", "a" * 2_000_000),))
    assert "a" * 2_000_000 in render_summary(p, None)


def test_escape_markdown_makes_untrusted_text_literal():
    text = escape_markdown("![img](http://x) <b>&</b> *a* | `c`\nnext")
    assert "\n" not in text
    for raw in ("![", "<b>", "](", "`c`", "*a*"):
        assert raw not in text
    assert re.search(r"(?<!\\)\|", text) is None  # every pipe is escaped
    assert "&amp;" in text and "&lt;b\\>" in text


def test_summary_lists_annotations_and_table_values_escaped():
    p = pres(
        outputs={"files": "a|b"},
        annotations=(Annotation(level="error", message="<script>", file="f.yaml", line=3),),
        table=Table(("h",), (("v",),)),
    )
    md = render_summary(p)
    assert "| files | a\\|b |" in md
    assert "<summary>Annotations (1)</summary>" in md
    assert "f\\.yaml:3" in md and "&lt;script\\>" in md


def test_emitter_works_with_an_explicit_stream(tmp_path):
    out = io.StringIO()
    GitHubEmitter(gh_env(tmp_path), out=out).emit(pres(secrets=("abcdefgh",)))
    assert out.getvalue().startswith("::add-mask::abcdefgh\n")


def test_module_constants_match_github_limits():
    assert SUMMARY_LIMIT == 1024 * 1024
    assert ANNOTATIONS_PER_LEVEL == 10
    assert github.DELIMITER_PREFIX == "ghadelimiter_"
    assert list(itertools.islice(mask_commands(["a\nb"]), 3)) == ["::add-mask::a", "::add-mask::b"]


# --------------------------------------------------------------------------- untrusted blocks


def active_commands(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Commands the runner acts on, honouring `::stop-commands::TOKEN` until `::TOKEN::`."""
    acted, stop = [], None
    for line in text.split("\n"):
        msg = line.lstrip()
        if stop is not None:
            if msg.startswith(f"::{stop}::"):
                stop = None
            continue
        cmd = parse_command(line)
        if cmd and cmd[0] == "stop-commands":
            stop = cmd[2]
        elif cmd:
            acted.append(cmd)
    return acted


def test_stop_commands_block_keeps_text_exact_and_inert():
    text = "-  image: a\n+  image: b\n::add-mask::x\n  ::set-output name=a::b\n# ##[error]x\n"
    block = github.stop_commands_block(text)
    assert active_commands(block) == []
    lines = block.split("\n")
    assert "\n".join(lines[1:-2]) + "\n" == text
    assert active_commands(block + "::notice::after\n") == [("notice", {}, "after")]


def test_stop_token_is_redrawn_if_the_text_contains_it():
    draws = iter(["aa" * 16, "bb" * 16])
    block = github.stop_commands_block(f"::{'aa' * 16}::", token=lambda n: next(draws))
    assert block.startswith(f"::stop-commands::{'bb' * 16}\n")
    assert active_commands(block) == []


def test_print_untrusted_on_github_and_elsewhere():
    from mlgate.ci.emit import print_untrusted

    gh, local = io.StringIO(), io.StringIO()
    text = "+x\n::add-mask::y\n\x1b[2J\n"
    print_untrusted(text, {"GITHUB_ACTIONS": "true"}, out=gh)
    print_untrusted(text, {}, out=local)
    assert active_commands(gh.getvalue()) == []
    assert "::add-mask::y" in gh.getvalue()
    assert local.getvalue() == "+x\n::add-mask::y\n\\x1b[2J\n"


def test_human_line_does_not_repeat_the_command():
    assert github.human_line(pres(title="mlgate rewrite: 1 value")) == (
        "mlgate rewrite: 1 value — passed"
    )
    assert github.human_line(pres(title="::x")) == "mlgate rewrite: ::x — passed"
