"""The README is the five-minute read and the reference is a MkDocs site: the README starts with
the two commands for a fresh clone, stays under 25 KB and links only to docs pages that exist;
`mkdocs build --strict` (Material theme, no network) builds docs/ without a single warning, and
every page is in the nav."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
DOCS = REPO / "docs"
MAX_README_BYTES = 25_600
FIRST_LINES = [
    "# mlgate",
    "",
    "```bash",
    "./scripts/demo    # the pipeline end to end on the bundled example "
    "(makes .venv, runs `mlgate demo`)",
    "./scripts/test    # the whole test suite (unit + act / gitlab-ci-local end to end)",
    "```",
]


def test_readme_starts_with_the_two_commands_for_a_fresh_clone() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[: len(FIRST_LINES)] == FIRST_LINES


def test_readme_is_a_five_minute_read() -> None:
    size = README.stat().st_size
    assert size < MAX_README_BYTES, (
        f"README.md is {size} bytes; keep it under {MAX_README_BYTES}: move reference text to docs/"
    )


def test_readme_keeps_what_users_look_up() -> None:
    text = README.read_text(encoding="utf-8")
    assert "Features that are not listed as working do not exist yet; nothing is faked." in text
    for code in range(5):
        assert re.search(rf"^\| `{code}` \| ", text, re.MULTILINE), f"exit code {code}"
    assert "landed but the report failed" in text


def test_readme_links_to_docs_pages_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\((docs/[^)#\s]+)(?:#[^)\s]*)?\)", text)
    assert targets, "README.md links into docs/"
    for target in targets:
        assert (REPO / target).is_file(), f"README.md links to {target}, which does not exist"


def _nav_files(items) -> list[str]:
    found: list[str] = []
    for item in items:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                found += _nav_files(value) if isinstance(value, list) else [value]
    return found


def test_every_docs_page_is_in_the_nav() -> None:
    config = yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    assert config["theme"]["name"] == "material"
    nav = set(_nav_files(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - nav == set(), f"pages missing from the nav in mkdocs.yml: {pages - nav}"
    assert nav - pages == set(), f"nav entries without a page: {nav - pages}"


def test_mkdocs_build_strict_has_no_warning(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.fail(f"mkdocs is not installed next to {sys.executable} (the dev extra has it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    built = subprocess.run(
        [str(mkdocs), "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        capture_output=True, text=True, check=False, cwd=REPO, env=env, timeout=300,
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    warnings = [line for line in output.splitlines() if re.search(r"\bWARNING\b", line)]
    assert warnings == [], "\n".join(warnings)
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "commands" / "promote" / "index.html").is_file()
    html = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html"))
    assert "fonts.googleapis.com" not in html, "the site must not load fonts from the network"
