"""The GitLab templates install mlgate, by default, from where they come from.

mlgate is on no package index, so a template's default `install` fetches it from the project's
git repository at the template's own version: `git+$MLGATE_REPOSITORY_URL@$MLGATE_REF`. The URL
and the ref are set in one place (mlgate.ci.gitlab.SOURCE_REPOSITORY_URL / SOURCE_REF, which
scripts/gen_interface.py writes into new templates); every job of every template carries them as
variables, so a project CI/CD variable of the same name overrides them (a mirror).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlgate import __version__
from mlgate.ci.gitlab import SOURCE_REF, SOURCE_REPOSITORY_URL, default_install

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = sorted((REPO / "gitlab-templates").glob("*.yml"))
INSTALL = re.compile(r'pip install --quiet "mlgate(?:\[([a-z0-9,]+)\])? @ git\+\$\{MLGATE_'
                     r'REPOSITORY_URL\}@\$\{MLGATE_REF\}"')


def documents(path: Path) -> tuple[dict, dict]:
    header, body = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return header, body


def jobs(body: dict) -> dict[str, dict]:
    return {k: v for k, v in body.items() if isinstance(v, dict) and "script" in v}


def action_extras(path: Path) -> str | None:
    """MLGATE_EXTRAS of the action that runs the same command as this template."""
    name = path.stem
    action = REPO / ("action.yml" if name == "pipeline" else f"actions/{name}/action.yml")
    if not action.exists():
        return None
    for step in yaml.safe_load(action.read_text(encoding="utf-8"))["runs"]["steps"]:
        extras = (step.get("env") or {}).get("MLGATE_EXTRAS")
        if extras is not None:
            return str(extras)
    return None


def test_the_source_is_this_version_tag_of_a_git_url() -> None:
    assert SOURCE_REF == f"v{__version__}"
    assert re.fullmatch(r"https://[a-z0-9.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\.git",
                        SOURCE_REPOSITORY_URL)
    assert default_install("validate") == (
        'pip install --quiet "mlgate[validate] @ git+${MLGATE_REPOSITORY_URL}@${MLGATE_REF}"'
    )
    assert default_install() == (
        'pip install --quiet "mlgate @ git+${MLGATE_REPOSITORY_URL}@${MLGATE_REF}"'
    )


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_default_install_names_the_git_url_and_ref_from_the_one_place(path: Path) -> None:
    header, body = documents(path)
    install = header["spec"]["inputs"]["install"]["default"]
    match = INSTALL.fullmatch(install)
    assert match, f"{path.name}: install default {install!r}"
    extras = match.group(1) or ""
    assert install == default_install(extras)
    expected = action_extras(path)
    if expected is not None and "${{" not in expected:  # the action's extras, when literal
        assert extras == expected, f"{path.name}: extras {extras!r}, the action has {expected!r}"
    found = jobs(body)
    assert found, path.name
    for name, job in found.items():
        variables = job.get("variables") or {}
        assert variables.get("MLGATE_REPOSITORY_URL") == SOURCE_REPOSITORY_URL, (path.name, name)
        assert variables.get("MLGATE_REF") == SOURCE_REF, (path.name, name)
        assert variables.get("MLGATE_INSTALL") == "$[[ inputs.install ]]", (path.name, name)
        assert job["script"][0] == 'eval "$MLGATE_INSTALL"', (path.name, name)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_default_image_has_git_for_the_default_install(path: Path) -> None:
    header, _ = documents(path)
    image = header["spec"]["inputs"]["job-image"]
    assert not image["default"].endswith("-slim"), f"{path.name}: slim images have no git"
    assert "git" in image["description"], path.name


def test_docs_say_how_to_install_from_git_or_a_mirror() -> None:
    doc = (REPO / "docs" / "ci" / "gitlab-ci.md").read_text(encoding="utf-8")
    for needle in ("MLGATE_REPOSITORY_URL", "MLGATE_REF", "install:", SOURCE_REPOSITORY_URL):
        assert needle in doc, f"docs/ci/gitlab-ci.md must mention {needle}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "==0.1.0" not in readme and "MLGATE_REPOSITORY_URL" in readme
