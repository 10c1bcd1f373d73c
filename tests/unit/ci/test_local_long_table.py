"""A long table in a terminal is laid out in one pass (rich measures every cell): its columns
fit the width, its cells fold and keep every character."""

from __future__ import annotations

import io

from rich.console import Console

from mlgate.ci.local import _LONG_TABLE, _plain_table, _print_section


def test_cells_fold_within_the_width_and_keep_every_character():
    headers = ("app", "image", "gates")
    rows = [(f"app{i}", f"registry.example.com/ml/app{i}@sha256:{'ab' * 32}",
             "validate: passed, benchmark: passed") for i in range(_LONG_TABLE + 5)]
    text = _plain_table(headers, rows, 60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[1].startswith("─") and "┼" in lines[1]
    joined = "".join(line.split("│")[1].strip() for line in lines[2:])
    assert f"registry.example.com/ml/app3@sha256:{'ab' * 32}" in joined


def test_short_rows_and_a_wide_terminal_keep_natural_widths():
    text = _plain_table(("a", "b"), [("x", "yy")], 200)
    assert text.splitlines() == ["a │ b", "──┼───", "x │ yy"]


def test_a_long_section_uses_it_and_a_short_one_rich():
    md_long = "| a | b |\n| --- | --- |\n" + "".join(f"| r{i} | v{i} |\n"
                                                      for i in range(_LONG_TABLE + 1))
    out = io.StringIO()
    _print_section(Console(file=out, width=80), "Rows", md_long, fold=False)
    assert "r40 │ v40" in out.getvalue()
    out = io.StringIO()
    _print_section(Console(file=out, width=80), "Rows", "| a | b |\n| --- | --- |\n| r | v |\n",
                   fold=False)
    assert "┏━━━┳━━━┓" in out.getvalue()  # rich's box
