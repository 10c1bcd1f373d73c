"""A promotion to one environment can never touch another: the attacks a hostile user (or a
hostile commit in the config repo's history) would try, through the git provider and the
GitHub and GitLab stand-ins, in push and pull-request mode.

Each attack asserts the exit code (2, bad input), the one line naming the input, and that
nothing changed: every ref of the remote byte for byte, no API write, no request opened.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.configrepo import EXAMPLES, GIT_ENV, bare_from_tree, split_evidence, tree_files

from mlgate.cli import main
from mlgate.errors import BadInput
from mlgate.promote.confine import (
    check_changed,
    confine,
    confine_recorded,
    is_inside,
    outside_paths,
)

IMG = "registry.example.com/ml/churn"
STAGING = "apps/churn/staging"
GITLAB_TOKEN = "glpat-mlgate-test-token-0123456789"

# the example config repo plus files outside the staging folder that an attack would aim at
EXTRA = {
    "apps/churn/common-values.yaml": f"replicas: 3\nimage: {IMG}:v1.4.0\n",
    "root.yaml": "shared: true\n",
    "apps/churn/production/deployment.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: churn-production\n"
        "data:\n  mode: safe\n"
    ),
}


def seed_files() -> dict[str, str]:
    return {**tree_files(EXAMPLES), **EXTRA}


def git(cwd, *args: str, input: str | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, input=(
        input.encode() if input is not None else None), capture_output=True, check=True).stdout


def commit_to(bare: Path, tmp: Path, *, links: dict[str, str] = (), remove: tuple[str, ...] = (),
              message: str = "config change") -> None:
    """Someone commits to the remote's main with plain git: symlinks, removals, any message."""
    work = tmp / f"work-{len(list(tmp.glob('work-*')))}"
    git(tmp, "clone", "-q", str(bare), str(work))
    for rel in remove:
        git(work, "rm", "-rq", "--", rel)
    for rel, target in dict(links).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, work / rel)
        git(work, "add", "--", rel)
    git(work, "commit", "-q", "--allow-empty", "-F", "-", input=message)
    git(work, "push", "-q", "origin", "HEAD:main")


@dataclass
class Backend:
    """One way of landing: the git provider, or a forge API in push or pull-request mode."""

    name: str
    bare: Path
    argv: list[str]
    env: dict[str, str]
    api: object = None

    def refs(self) -> bytes:
        return git(self.bare, "for-each-ref")

    def writes(self) -> list[str]:
        """API calls that would change something (none for the git provider)."""
        if self.name.startswith("github"):
            return [f"{c.method} {c.path}" for c in self.api.calls()
                    if c.method in ("POST", "PATCH", "PUT", "DELETE")]
        if self.name.startswith("gitlab"):
            return [f"{r.method} {r.path}" for r in self.api.requests()
                    if r.method in ("POST", "PATCH", "PUT", "DELETE")]
        return []

    def requests_open(self) -> int:
        if self.name.startswith("github"):
            return len(self.api.pulls)
        if self.name.startswith("gitlab"):
            return len(self.api.projects["platform/config"].mrs)
        return 0


def _git_backend(tmp_path) -> Backend:
    bare = bare_from_tree(tmp_path, seed_files())
    return Backend("git", bare, ["--repo", str(bare)], {"PATH": "/usr/bin:/bin"})


@pytest.fixture(params=["git", "github-push", "github-pull-request", "gitlab-push",
                        "gitlab-pull-request"])
def backend(request, tmp_path, monkeypatch):
    if request.param == "git":
        yield _git_backend(tmp_path)
        return
    server = request.getfixturevalue("git_server")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    mode = ["--mode", "pull-request"] if request.param.endswith("pull-request") else []
    if request.param.startswith("github"):
        from standins.github_api import WRITE_TOKEN, GitHubStandIn

        server.add_user("x-access-token", WRITE_TOKEN, "write")
        with GitHubStandIn(server.root / "acme", files=seed_files()) as api:
            bare = server.path("acme/config")
            _serve(bare)
            yield Backend(request.param, bare,
                          ["--repo", server.url("acme/config"), "--provider", "github",
                           "--api-url", api.api_url, *mode],
                          {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": WRITE_TOKEN,
                           "NO_PROXY": "127.0.0.1"}, api)
        return
    from standins.gitlab_api import GitLabApiServer

    server.add_user("writer", GITLAB_TOKEN, "write")
    with GitLabApiServer(server.root, tokens={GITLAB_TOKEN: "write"}) as api:
        api.create_project("platform/config", seed_files())
        bare = server.path("platform/config")
        _serve(bare)
        yield Backend(request.param, bare,
                      ["--repo", server.url("platform/config"), "--provider", "gitlab",
                       "--api-url", api.url, *mode],
                      {"PATH": "/usr/bin:/bin", "GITLAB_TOKEN": GITLAB_TOKEN,
                       "MLGATE_GIT_USERNAME": "writer", "NO_PROXY": "127.0.0.1"}, api)


def _serve(bare: Path) -> None:
    for key in ("http.receivepack", "http.uploadpack", "uploadpack.allowFilter"):
        subprocess.run(["git", "-C", str(bare), "config", key, "true"], check=True)


def attempt(backend: Backend, capsys, *args: str, command: str = "promote",
            environment: str = "staging") -> tuple[int, str]:
    """Run the attack; return its exit code and the error line, having checked that nothing
    changed on the remote and no request was opened."""
    before = backend.refs()
    opened = backend.requests_open()
    capsys.readouterr()
    code = main([command, *backend.argv, "--app", "churn", "--path", "apps/churn",
                 "--environment", environment, *args], environ=backend.env)
    err = capsys.readouterr().err
    assert backend.refs() == before, f"{backend.name}: the remote's refs changed"
    assert backend.writes() == [], f"{backend.name}: the API was asked to write"
    assert backend.requests_open() == opened, f"{backend.name}: a request was opened"
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return code, lines[0]


OUTSIDE = f"must be inside the environment folder {STAGING}"


@pytest.mark.parametrize("spec", [
    "../common-values.yaml:replicas=0",
    "../../../root.yaml:shared=false",
    "../production/kustomization.yaml:namespace=HACK",
    "/apps/churn/common-values.yaml:replicas=0",
    "/etc/passwd:root=x",
    "../STAGING/kustomization.yaml:namespace=x",  # case variant: another folder, or the same
    "../Staging/../../churn/common-values.yaml:replicas=0",
    "sub/../../common-values.yaml:replicas=0",
    "..\\common-values.yaml:replicas=0",
    ".git/config:core.hooksPath=/tmp",
])
def test_set_outside_the_environment_folder_is_refused(backend, capsys, spec):
    code, line = attempt(backend, capsys, "--set", spec)
    assert code == 2
    assert line.endswith(f"--set {spec!r}: {OUTSIDE}"), line


def test_from_environment_cannot_write_the_source_environment(backend, capsys):
    spec = "../production/deployment.yaml:data.mode=HACK"
    code, line = attempt(backend, capsys, "--from-environment", "production", "--image", IMG,
                         "--set", spec)
    assert code == 2
    assert line.endswith(f"--set {spec!r}: {OUTSIDE}"), line


def test_symlinked_file_in_the_environment_folder_is_not_written_through(backend, capsys,
                                                                       tmp_path):
    commit_to(backend.bare, tmp_path, links={f"{STAGING}/shared.yaml": "../common-values.yaml"})
    code, line = attempt(backend, capsys, "--set", "shared.yaml:replicas=0")
    assert code == 2
    assert "--set 'shared.yaml:replicas=0': resolves to 'apps/churn/common-values.yaml'" in line
    assert f"outside the environment folder {STAGING}" in line


def test_image_rewrite_does_not_follow_a_symlink_out_of_the_folder(backend, capsys, tmp_path):
    # the walk over the folder finds the image in the linked file: writing it would change
    # apps/churn/common-values.yaml under a staging promotion
    commit_to(backend.bare, tmp_path, links={f"{STAGING}/shared.yaml": "../common-values.yaml"})
    code, line = attempt(backend, capsys, "--image", f"{IMG}:v1.5.0")
    assert code == 2
    assert f"{STAGING}/shared.yaml: resolves to 'apps/churn/common-values.yaml'" in line


def test_symlinked_parent_folder_inside_the_environment_is_refused(backend, capsys, tmp_path):
    commit_to(backend.bare, tmp_path, links={f"{STAGING}/up": "../.."})
    code, line = attempt(backend, capsys, "--set", "up/churn/common-values.yaml:replicas=0")
    assert code == 2
    assert "resolves to 'apps/churn/common-values.yaml' through a symlink" in line


def test_source_folder_read_through_a_symlink_out_of_it_is_refused(backend, capsys, tmp_path):
    commit_to(backend.bare, tmp_path,
              links={"apps/churn/production/leak.yaml": "../../../root.yaml"})
    code, line = attempt(backend, capsys, "--from-environment", "production",
                         "--set", "leak.yaml:shared")
    assert code == 2
    assert "resolves to 'root.yaml' through a symlink, outside the environment folder " \
           "apps/churn/production" in line


def test_symlinked_environment_folder_is_bad_input_not_a_git_failure(backend, capsys, tmp_path):
    commit_to(backend.bare, tmp_path, remove=(STAGING,), links={STAGING: "production"})
    code, line = attempt(backend, capsys, "--image", f"{IMG}:v1.5.0")
    assert code == 2
    assert f"{STAGING}: {STAGING} is a symlink in the config repo" in line


def test_symlinked_folder_above_the_environment_is_refused(capsys, tmp_path):
    backend = _git_backend(tmp_path)
    commit_to(backend.bare, tmp_path, links={"apps/mirror": "churn"})
    before = backend.refs()
    code = main(["promote", *backend.argv, "--app", "churn", "--path", "apps/mirror",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"], environ=backend.env)
    assert code == 2
    assert "apps/mirror is a symlink in the config repo" in capsys.readouterr().err
    assert backend.refs() == before


HOSTILE = "apps/churn/production/deployment.yaml:data.mode=HACK"


@pytest.mark.parametrize("recorded", [
    HOSTILE,
    "apps/churn/staging/../production/deployment.yaml:data.mode=HACK",
    "/etc/passwd:root=x",
    "apps/churn/STAGING/kustomization.yaml:namespace=x",
    "apps/churn/common-values.yaml:replicas=0",  # checked out with the folder: would land
    "root.yaml:shared=false",
])
def test_rollback_of_a_hostile_trailer_is_refused(backend, capsys, tmp_path, recorded):
    # a commit anyone with push rights could make: it looks like a staging promotion whose
    # "previous value" lives in production
    commit_to(backend.bare, tmp_path, message=(
        "promote churn to staging\n\n"
        "Mlgate-App: churn\nMlgate-Environment: staging\n"
        f"Mlgate-Set-Previous: {recorded}\n"
        f"Mlgate-Set-New: {STAGING}/model-version.yaml:spec.predictor.model.storageUri=s3://x\n"))
    code, line = attempt(backend, capsys, command="rollback")
    assert code == 2
    assert f"Mlgate-Set-Previous {recorded!r} recorded in " in line
    assert line.endswith(OUTSIDE), line


def test_rollback_restoring_through_a_symlink_is_refused(capsys, tmp_path):
    backend = _git_backend(tmp_path)
    commit_to(backend.bare, tmp_path, links={f"{STAGING}/shared.yaml": "../common-values.yaml"},
              message=("promote churn to staging\n\nMlgate-App: churn\n"
                       "Mlgate-Environment: staging\n"
                       f"Mlgate-Set-Previous: {STAGING}/shared.yaml:replicas=0\n"
                       f"Mlgate-Set-New: {STAGING}/shared.yaml:replicas=3\n"))
    before = backend.refs()
    code = main(["rollback", *backend.argv, "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging"], environ=backend.env)
    assert code == 2
    assert "resolves to 'apps/churn/common-values.yaml' through a symlink" in \
        capsys.readouterr().err
    assert backend.refs() == before


def test_final_check_refuses_a_write_outside_whatever_made_it(backend, capsys, monkeypatch):
    """The second line of defence: a (future) rewrite that writes outside the folder is caught
    on the final change, before the commit is made or sent."""
    import mlgate.manifests.engine as engine

    real_rewrite = engine.rewrite

    def leaky(config):
        result = real_rewrite(config)
        Path(config.root, "apps/churn/common-values.yaml").write_text("replicas: 0\n")
        return result

    monkeypatch.setattr(engine, "rewrite", leaky)
    code, line = attempt(backend, capsys, "--image", f"{IMG}:v1.5.0")
    assert code == 2
    assert line.endswith(f"refusing to commit 'apps/churn/common-values.yaml': a promotion to "
                         f"{STAGING} may change files only inside that folder"), line


def test_a_promotion_inside_the_folder_still_lands(backend, capsys):
    code = main(["promote", *backend.argv, "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0",
                 "--set", "./sub/../model-version.yaml:spec.predictor.model.storageUri=s3://m/4"],
                environ=backend.env)
    assert code == 0, capsys.readouterr().err
    ref = "main" if backend.name.endswith("push") or backend.name == "git" \
        else "mlgate/churn/staging"
    changed = git(backend.bare, "diff", "--name-only", f"{ref}~1", ref).decode().split()
    manifests, evidence = split_evidence(changed)  # and the commit's own evidence folder
    assert manifests == [f"{STAGING}/kustomization.yaml", f"{STAGING}/model-version.yaml"]
    assert evidence == {"summary.md", "statement.json"}


def test_a_symlink_to_a_file_in_the_same_folder_rewrites_the_file_and_keeps_the_link(
        backend, capsys, tmp_path):
    commit_to(backend.bare, tmp_path,
              links={f"{STAGING}/alias.yaml": "kustomization.yaml"})
    code = main(["promote", *backend.argv, "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"], environ=backend.env)
    assert code == 0, capsys.readouterr().err
    ref = "main" if backend.name.endswith("push") or backend.name == "git" \
        else "mlgate/churn/staging"
    changed = git(backend.bare, "diff", "--name-only", f"{ref}~1", ref).decode().split()
    assert split_evidence(changed)[0] == [f"{STAGING}/kustomization.yaml"]
    mode = git(backend.bare, "ls-tree", ref, f"{STAGING}/alias.yaml").decode().split()[0]
    assert mode == "120000"  # still a symlink, not replaced by a copy


# the path rule itself ------------------------------------------------------------------------

def test_check_changed_refuses_any_path_outside_the_folder():
    check_changed([f"{STAGING}/a.yaml", f"{STAGING}/sub/b.yaml"], STAGING)
    for bad in ["apps/churn/production/a.yaml", "apps/churn/staging-evil/a.yaml",
                "apps/churn/STAGING/a.yaml", f"{STAGING}/../common.yaml", STAGING, "root.yaml",
                f"/{STAGING}/a.yaml", f"{STAGING}/.git/config", ""]:
        with pytest.raises(BadInput, match="may change files only inside that folder"):
            check_changed([f"{STAGING}/ok.yaml", bad], STAGING)
    assert outside_paths([f"{STAGING}/x", "x", f"{STAGING}2/x"], STAGING) == ["x", f"{STAGING}2/x"]


def test_check_changed_names_the_first_path_and_counts_the_rest():
    with pytest.raises(BadInput) as info:
        check_changed(["a.yaml", "b.yaml", f"{STAGING}/c.yaml"], STAGING)
    assert str(info.value).startswith("refusing to commit 'a.yaml' (and 1 more)")


def test_recorded_paths_are_repo_relative_and_confined():
    assert confine_recorded(STAGING, f"{STAGING}/./a.yaml", "t") == f"{STAGING}/a.yaml"
    with pytest.raises(BadInput, match="must be inside the environment folder"):
        confine_recorded(STAGING, "a.yaml", "t")


SEGMENTS = st.sampled_from(["..", ".", "", "staging", "Staging", "STAGING", "production",
                            "churn", "CHURN", "apps", "x.yaml", "values.yaml", ".git", "sub"])


@settings(max_examples=600, deadline=None)
@given(st.lists(SEGMENTS, min_size=1, max_size=8), st.booleans())
def test_confine_never_returns_a_path_outside_the_folder(segments, absolute):
    given_path = ("/" if absolute else "") + "/".join(segments)
    try:
        out = confine(STAGING, given_path, "--set")
    except BadInput as exc:
        assert "must be inside the environment folder apps/churn/staging" in str(exc)
        return
    # accepted: normalised, strictly below the folder with the folder's exact case, no way up
    assert out == posixpath.normpath(out)
    assert out.startswith(STAGING + "/")
    assert ".." not in out.split("/") and ".git" not in out.casefold().split("/")
    assert posixpath.normpath(posixpath.join(STAGING, given_path)) == out
    assert is_inside(STAGING, out)


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENTS, min_size=1, max_size=8))
def test_is_inside_agrees_with_a_case_insensitive_reading(segments):
    """Accepted paths stay inside on a case-insensitive disk too, and a path that only a
    case-insensitive reading would put inside is refused."""
    path = "/".join(segments)
    norm = posixpath.normpath(path)
    inside = is_inside(STAGING, path)
    folded = norm.casefold().startswith(STAGING.casefold() + "/")
    if inside:
        assert folded and norm.startswith(STAGING + "/")
    elif folded and not norm.startswith(STAGING + "/"):
        assert not inside


@pytest.mark.parametrize("base_path", [".git", "apps/../.GIT/hooks", "apps/churn\\..\\.."])
def test_environment_folder_in_git_metadata_is_refused(capsys, tmp_path, base_path):
    backend = _git_backend(tmp_path)
    code = main(["promote", *backend.argv, "--app", "churn", "--path", base_path,
                 "--environment", "staging", "--image", f"{IMG}:v1.5.0"], environ=backend.env)
    assert code == 2
    assert "not a folder inside the config repo" in capsys.readouterr().err


# the rule, case by case (fast: no checkout, no forge) ------------------------------------------

@pytest.mark.parametrize("folder, path, inside", [
    (STAGING, f"{STAGING}/values.yaml", True),
    (STAGING, f"{STAGING}/sub/./x/../values.yaml", True),
    (STAGING, "apps/churn/production/../staging/values.yaml", True),
    (STAGING + "/", f"{STAGING}/values.yaml", True),          # the folder is normalised too
    ("apps/./churn//staging", f"{STAGING}/values.yaml", True),
    ("apps", "apps/.gitignore", True),                        # only a segment named .git is git's
    (STAGING, STAGING, False),                                # strictly below: not the folder
    (STAGING, f"{STAGING}/.", False),
    (STAGING, "apps/churn/staging-2/values.yaml", False),     # a sibling sharing the prefix
    (STAGING, f"{STAGING}/../production/values.yaml", False),
    (STAGING, "apps/churn/STAGING/values.yaml", False),       # case is compared exactly
    ("", "values.yaml", False),
    (STAGING, "", False),
    (STAGING, f"/{STAGING}/values.yaml", False),
    ("/apps", "/apps/values.yaml", False),
    (".", "values.yaml", False),
    ("..", "../values.yaml", False),
    ("../up", "../up/values.yaml", False),
    ("apps/../..", "../values.yaml", False),
    (STAGING, f"{STAGING}/.git/config", False),
    (STAGING, f"{STAGING}/sub/.GIT/hooks/pre-commit", False),
    (".git", ".git/config", False),
    (STAGING, f"{STAGING}/a\\..\\..\\x", False),
    (STAGING, f"{STAGING}/a\x00", False),
    (STAGING, f"{STAGING}/a\nb", False),
    (STAGING, f"{STAGING}/a\rb", False),
    (STAGING + "\n", f"{STAGING}\n/a", False),
    (STAGING + "\\x", f"{STAGING}\\x/a", False),
])
def test_is_inside(folder, path, inside):
    assert is_inside(folder, path) is inside


@pytest.mark.parametrize("given_path, out", [
    ("values.yaml", f"{STAGING}/values.yaml"),
    ("./sub/../values.yaml", f"{STAGING}/values.yaml"),
    ("sub//values.yaml", f"{STAGING}/sub/values.yaml"),
    ("", None), ("/etc/passwd", None), ("..\\production\\values.yaml", None),
    ("values.yaml\x00", None), ("values.yaml\n", None), ("values.yaml\r", None),
    ("../production/values.yaml", None), (".", None), (".git/config", None),
])
def test_confine_a_set_file_to_the_environment_folder(given_path, out):
    if out is not None:
        assert confine(STAGING, given_path, "--set x") == out
        return
    with pytest.raises(BadInput) as info:
        confine(STAGING, given_path, "--set 'f:a=1'")
    assert str(info.value) == "--set 'f:a=1': must be inside the environment folder " + STAGING


def test_recorded_paths_read_back_from_history_are_confined_exactly():
    assert confine_recorded(STAGING, f"{STAGING}/sub/../a.yaml", "t") == f"{STAGING}/a.yaml"
    for bad in ["a.yaml", "apps/churn/production/a.yaml", f"/{STAGING}/a.yaml", ""]:
        with pytest.raises(BadInput) as info:
            confine_recorded(STAGING, bad, "recorded value file 'x'")
        assert str(info.value) == ("recorded value file 'x': must be inside the environment "
                                   f"folder {STAGING}")


def test_check_changed_message_counts_every_other_path():
    with pytest.raises(BadInput) as info:
        check_changed(iter(["root.yaml"]), STAGING)
    assert str(info.value) == (f"refusing to commit 'root.yaml': a promotion to {STAGING} may "
                               "change files only inside that folder")
    with pytest.raises(BadInput) as info:
        check_changed(["a", f"{STAGING}/ok", "b", "c"], STAGING)
    assert str(info.value).startswith("refusing to commit 'a' (and 2 more): ")
    long = "x" * 300
    with pytest.raises(BadInput) as info:
        check_changed([long], STAGING)
    assert str(info.value).startswith(f"refusing to commit '{'x' * 200}': ")
    check_changed(iter([f"{STAGING}/a", f"{STAGING}/b/c"]), STAGING)  # inside: no error


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    for folder in ("apps/churn/staging/sub", "apps/churn/production", "elsewhere/staging"):
        (root / folder).mkdir(parents=True)
    (root / "apps/churn/production/values.yaml").write_text("prod\n")
    (root / STAGING / "values.yaml").write_text("staging\n")
    return root


def test_check_folder_returns_the_real_folder(tmp_path):
    from mlgate.promote.confine import check_folder

    root = _checkout(tmp_path)
    via = tmp_path / "via-link"
    via.symlink_to(root)   # the checkout itself may sit behind a symlink (a runner's /tmp)
    assert check_folder(str(via), STAGING, "environment folder") == \
        os.path.join(os.path.realpath(root), "apps", "churn", "staging")


@pytest.mark.parametrize("link, target", [
    (STAGING, "../../elsewhere/staging"),      # the folder itself
    ("apps/churn", "../elsewhere"),            # a folder above it
])
def test_check_folder_refuses_a_symlink_on_the_way(tmp_path, link, target):
    from mlgate.promote.confine import check_folder

    root = _checkout(tmp_path)
    moved = root / link
    os.rename(moved, tmp_path / "moved")
    if link == "apps/churn":
        (root / "elsewhere/staging").mkdir(exist_ok=True)
        os.makedirs(root / "elsewhere/churn/staging", exist_ok=True)
        moved.symlink_to("../elsewhere/churn")
    else:
        moved.symlink_to(target)
    with pytest.raises(BadInput) as info:
        check_folder(str(root), STAGING, "--environment staging")
    assert str(info.value) == (
        f"--environment staging ({STAGING}): {link} is a symlink in the config repo; a promotion "
        "writes only into a real folder, never through a symlink")


def test_check_real_follows_symlinks_and_refuses_what_leaves_the_folder(tmp_path):
    from mlgate.promote.confine import check_real

    root = _checkout(tmp_path)
    env = root / STAGING
    (env / "same.yaml").symlink_to("values.yaml")
    (env / "sub" / "up.yaml").symlink_to("../values.yaml")
    (env / "prod.yaml").symlink_to("../production/values.yaml")
    for rel in ("values.yaml", "same.yaml", "sub/up.yaml", "new.yaml"):
        check_real(str(root), STAGING, f"{STAGING}/{rel}", "--set x")
    with pytest.raises(BadInput) as info:
        check_real(str(root), STAGING, f"{STAGING}/prod.yaml", "--set 'prod.yaml:a=1'")
    assert str(info.value) == (
        "--set 'prod.yaml:a=1': resolves to 'apps/churn/production/values.yaml' through a "
        f"symlink, outside the environment folder {STAGING}; refusing")
    (env / "self.yaml").symlink_to(".")
    with pytest.raises(BadInput, match=f"resolves to '{STAGING}' through a symlink"):
        check_real(str(root), STAGING, f"{STAGING}/self.yaml", "--set x")
    (env / "far.yaml").symlink_to("../" * 4 + "x" * 250)
    with pytest.raises(BadInput) as info:
        check_real(str(root), STAGING, f"{STAGING}/far.yaml", "--set x")
    assert f"resolves to '{'../' + 'x' * 197}' through" in str(info.value)
    os.rename(env, tmp_path / "real-staging")
    env.symlink_to(tmp_path / "real-staging")
    with pytest.raises(BadInput) as info:
        check_real(str(root), STAGING, f"{STAGING}/values.yaml", "--set x")
    assert str(info.value) == (
        f"environment folder ({STAGING}): {STAGING} is a symlink in the config repo; a "
        "promotion writes only into a real folder, never through a symlink")
