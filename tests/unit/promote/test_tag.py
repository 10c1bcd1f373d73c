"""promote --tag NAME (issue 19): an annotated tag on the promotion commit, pushed with it in one
`git push --atomic` over git (bare repositories), and made through the GitHub and GitLab APIs
(the stand-ins, driven by PyGithub and python-gitlab) with --release's release on it.
Bad or taken names are exit 2 with one line, and the remote is left exactly as it was."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
from support.configrepo import example_remote, git
from support.evidence import blob, evidence_dir
from support.fixtures import git_server  # noqa: F401
from unit.promote.test_github import forge as github  # noqa: F401
from unit.promote.test_github import run as run_github
from unit.promote.test_gitlab import TOKEN as GITLAB_TOKEN
from unit.promote.test_gitlab import forge as gitlab  # noqa: F401
from unit.promote.test_gitlab import run as run_gitlab

from mlgate.cli import main

IMG = "registry.example.com/ml/churn"
ENV = {"PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": "team/churn-model", "GITHUB_SHA": "a" * 40,
       "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com"}


def bench_json(tmp_path, version="7"):
    """A benchmark gate's result naming the candidate model's version."""
    doc = {"command": "benchmark", "verdict": "passed", "exit_code": 0, "title": "better",
           "result": {"candidate": {"role": "candidate", "uri": f"models:/churn/{version}",
                                    "name": "churn", "version": version}}}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(doc))
    return path


def promote(remote, tmp_path, *args, env=ENV):
    out = tmp_path / "r.json"
    code = main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--json", str(out), *args], environ=env)
    return code, (json.loads(out.read_text()) if out.exists() else {})


def refs(remote) -> str:
    """Every ref of the remote with its object: what "unchanged" is compared on."""
    return git(remote, "ls-remote", str(remote))


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


# over git ------------------------------------------------------------------------------------


def test_annotated_tag_lands_with_the_commit_and_points_at_it(remote, tmp_path):
    gate = bench_json(tmp_path)
    code, data = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--evidence", str(gate),
                         "--tag", "{app}-{environment}-{version}")
    assert code == 0, data
    name = "churn-staging-7"  # {version}: the benchmark's candidate, not the image tag
    assert git(remote, "cat-file", "-t", f"refs/tags/{name}").strip() == "tag"  # annotated
    head = git(remote, "rev-parse", "main").strip()
    assert git(remote, "rev-parse", f"{name}^{{commit}}").strip() == head
    raw = git(remote, "cat-file", "tag", name)
    subject = git(remote, "log", "-1", "--format=%s", "main").strip()
    assert "tagger mlgate <mlgate@users.noreply.localhost>" in raw
    message = raw.partition("\n\n")[2]
    assert message.splitlines()[0] == subject
    assert "mlgate promotion of churn to staging: benchmark passed; evidence " \
        f"{evidence_dir(remote, 'main')}" in message
    assert data["outputs"]["tag"] == name and data["outputs"]["release-url"] == ""
    assert data["result"]["tag"]["commit"] == head
    assert data["result"]["tag"]["object_sha"] == git(remote, "rev-parse", name).strip()


@pytest.mark.parametrize(("template", "expected"), [
    ("Q2-2026-fraud-model", "Q2-2026-fraud-model"),
    ("{app}/{environment}/{tag}", "churn/staging/v1.5.0"),
    ("{app}-{version}", "churn-v1.5.0"),  # no model version known: the image tag
    ("release-{date}", "release-" + time.strftime("%Y-%m-%d", time.gmtime())),
])
def test_template_expansion(remote, tmp_path, template, expected):
    code, data = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", template)
    assert code == 0, data
    assert data["outputs"]["tag"] == expected
    assert git(remote, "rev-parse", f"{expected}^{{commit}}").strip() == \
        git(remote, "rev-parse", "main").strip()


def test_registry_version_names_the_version(remote, tmp_path, monkeypatch):
    """--registry-version is the model version when no benchmark result names one."""
    from mlgate.registry import mlflow_alias

    monkeypatch.setattr(mlflow_alias, "current_version", lambda *a, **k: "3")
    from mlgate.promote import promote as core

    monkeypatch.setattr(core, "_move_alias", lambda cfg, landed: None)
    code, data = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--registry-model",
                         "churn", "--registry-version", "4", "--registry-alias", "champion",
                         "--tag", "{app}-v{version}")
    assert code == 0, data
    assert data["outputs"]["tag"] == "churn-v4"


@pytest.mark.parametrize(("template", "args", "said"), [
    ("bad name", (), "not a valid git tag name"),
    ("a..b", (), "not a valid git tag name"),
    ("x~1", (), "not a valid git tag name"),
    ("ends.lock", (), "not a valid git tag name"),
    ("-rf", (), "not a valid git tag name"),
    ("{app}:{tag}", (), "not a valid git tag name"),
    ("{nope}-1", (), "unknown placeholder {nope}"),
    ("{tag}", ("--set", "model-version.yaml:spec.predictor.model.storageUri=s3://m/4"),
     "{tag} has no value"),
])
def test_invalid_name_is_exit_2_one_line_remote_unchanged(remote, tmp_path, capsys, template,
                                                          args, said):
    before = refs(remote)
    image = () if args else ("--image", f"{IMG}:v1.5.0")
    code, _ = promote(remote, tmp_path, *image, *args, "--tag", template)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tag" in err[0] and said in err[0], err
    assert refs(remote) == before


def test_invalid_name_is_refused_before_cloning(tmp_path, capsys):
    """Nothing is fetched for a name that cannot work: a repo that does not exist is never
    reached (its error would be exit 3)."""
    code, _ = promote("http://127.0.0.1:9/acme/config.git", tmp_path, "--image", f"{IMG}:v1",
                      "--tag", "a b")
    assert code == 2
    assert "--tag" in capsys.readouterr().err


def test_existing_tag_is_refused_before_anything_lands(remote, tmp_path, capsys):
    git(remote, "tag", "churn-prod", "main")
    before = refs(remote)
    code, _ = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "churn-prod")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "--tag 'churn-prod'" in err[0]
    assert refs(remote) == before


def test_tag_made_between_the_check_and_the_push_refuses_both(remote, tmp_path, capsys,
                                                              monkeypatch):
    """The atomic push refuses the branch with the tag: main does not move."""
    from mlgate.promote import landing

    original = landing.check_free_git

    def then_someone_tags(g, checkout, name, url):
        original(g, checkout, name, url)
        git(remote, "tag", name, "main")  # a concurrent release takes the name

    monkeypatch.setattr(landing, "check_free_git", then_someone_tags)
    head = git(remote, "rev-parse", "main").strip()
    code, _ = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "q2")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "created on the config repo meanwhile" in err[0]
    assert git(remote, "rev-parse", "main").strip() == head
    assert git(remote, "cat-file", "-t", "q2").strip() == "commit"  # theirs, untouched


def test_reapplied_promotion_tags_the_new_commit(remote, tmp_path, monkeypatch):
    """Another promotion lands between the clone and the push: the rewrite is re-applied on
    the new head and the tag is made again on the new commit, pushed with it."""
    from mlgate.promote import landing

    original = landing.check_free_git
    seed = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(seed))

    def then_someone_pushes(g, checkout, name, url):
        original(g, checkout, name, url)
        (seed / "README-other.md").write_text("another team's change\n")
        git(seed, "add", "README-other.md")
        git(seed, "commit", "-qm", "other change")
        git(seed, "push", "-q", "origin", "HEAD:main")

    monkeypatch.setattr(landing, "check_free_git", then_someone_pushes)
    monkeypatch.setattr(landing, "_backoff", lambda attempt: None)
    code, data = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "v-{tag}")
    assert code == 0, data
    assert data["outputs"]["attempts"] == "2"
    head = git(remote, "rev-parse", "main").strip()
    assert git(remote, "rev-parse", "v-v1.5.0^{commit}").strip() == head
    assert git(remote, "log", "-1", "--format=%s", "main~1").strip() == "other change"
    assert data["result"]["tag"]["commit"] == head


def test_tag_signed_like_the_commit(remote, tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    code, data = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--signing-key",
                         str(key), "--tag", "signed-{tag}")
    assert code == 0, data
    assert "-----BEGIN SSH SIGNATURE-----" in git(remote, "cat-file", "tag", "signed-v1.5.0")
    assert data["result"]["tag"]["signed"] is True


@pytest.mark.parametrize(("args", "said"), [
    (("--tag", "x", "--mode", "pull-request", "--provider", "github"), "pull-request"),
    (("--tag", "x", "--release"), "--release needs --provider github or gitlab"),
    (("--release",), "--release needs --tag"),
])
def test_combinations_that_cannot_work_are_exit_2(remote, tmp_path, capsys, args, said):
    before = refs(remote)
    env = {**ENV, "GITHUB_TOKEN": "t"}
    code, _ = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", *args, env=env)
    assert code == 2
    assert said in capsys.readouterr().err
    assert refs(remote) == before


def test_summary_mentions_the_tag(remote, tmp_path):
    summary = tmp_path / "summary.md"
    env = {**ENV, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_OUTPUT": str(tmp_path / "out.txt")}
    code, _ = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "q3", env=env)
    assert code == 0
    assert "Annotated tag `q3`" in summary.read_text()


# through the GitHub API ---------------------------------------------------------------------


def via_github(forge, tmp_path, *args):
    return run_github(forge, tmp_path, *args)


def test_github_tag_and_release(github, tmp_path):  # noqa: F811
    _, api, bare = github
    code, data = via_github(github, tmp_path, "--image", f"{IMG}:v1.5.0",
                            "--tag", "{app}-{environment}-{tag}", "--release")
    assert code == 0, data
    name = "churn-production-v1.5.0"
    head = git(bare, "rev-parse", "main").strip()
    assert git(bare, "cat-file", "-t", f"refs/tags/{name}").strip() == "tag"
    assert git(bare, "rev-parse", f"{name}^{{commit}}").strip() == head
    assert git(bare, "cat-file", "tag", name).partition("\n\n")[2].startswith(
        "promote churn to production:")
    # the check, the tag object, its ref, the release: in that order, after the commit
    paths = [(c.method, c.path.split("/", 4)[-1]) for c in api.calls()]
    assert ("GET", "git/ref/tags/" + name) in paths
    tag_calls = [p for p in paths if p[1] in ("git/tags", "git/refs", "releases")]
    assert tag_calls == [("POST", "git/tags"), ("POST", "git/refs"), ("POST", "releases")]
    release = api.releases[name]
    summary = blob(bare, "main", f"{evidence_dir(bare, 'main')}/summary.md").decode()
    assert release["body"] == summary  # the release notes: the promotion's Markdown summary
    assert release["name"] == git(bare, "log", "-1", "--format=%s", "main").strip()
    assert data["outputs"]["release-url"].endswith(f"/acme/config/releases/tag/{name}")


def test_github_existing_tag_refused_before_the_commit(github, tmp_path, capsys):  # noqa: F811
    _, api, bare = github
    git(bare, "tag", "taken", "main")
    head = git(bare, "rev-parse", "main").strip()
    api.clear_log()
    code, _ = via_github(github, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "taken")
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert git(bare, "rev-parse", "main").strip() == head
    assert not api.calls("POST")  # nothing written


def test_github_tag_taken_after_the_check_names_the_landed_commit(github, tmp_path,  # noqa: F811
                                                                  capsys):
    """GitHub answers 422 "Reference already exists" on the ref: the commit landed (the API
    has no atomic commit-and-tag), which is said with the commit (exit 3)."""
    _, api, bare = github
    api.before_next(lambda: git(bare, "tag", "late", "main"), method="POST", path="git/tags")
    code, _ = via_github(github, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "late")
    assert code == 3
    err = capsys.readouterr().err
    head = git(bare, "rev-parse", "main").strip()
    assert f"landed as commit {head[:12]}" in err and "not tagged" in err
    assert api.calls("POST", "git/refs")[-1].status == 422


# through the GitLab API ---------------------------------------------------------------------

def via_gitlab(forge, tmp_path, *args):
    return run_gitlab(forge, tmp_path, *args)


def test_gitlab_tag_and_release(gitlab, tmp_path):  # noqa: F811
    _, api, bare = gitlab
    gate = bench_json(tmp_path, "12")
    code, data = via_gitlab(gitlab, tmp_path, "--image", f"{IMG}:v1.5.0", "--evidence",
                            str(gate), "--tag", "{app}-{version}", "--release")
    assert code == 0, data
    head = api.head("platform/config", "main")
    assert git(bare, "cat-file", "-t", "refs/tags/churn-12").strip() == "tag"
    assert git(bare, "rev-parse", "churn-12^{commit}").strip() == head
    assert "benchmark passed" in git(bare, "cat-file", "tag", "churn-12")
    posts = [r.path for r in api.log if r.method == "POST"]
    assert posts[-2].endswith("/repository/tags") and posts[-1].endswith("/releases")
    release = api.projects["platform/config"].releases["churn-12"]
    summary = blob(bare, "main", f"{evidence_dir(bare, 'main')}/summary.md").decode()
    assert release["description"] == summary
    assert data["outputs"]["tag"] == "churn-12"
    assert data["outputs"]["release-url"].endswith("/platform/config/-/releases/churn-12")


def test_gitlab_existing_tag_refused_before_the_commit(gitlab, tmp_path, capsys):  # noqa: F811
    _, api, bare = gitlab
    git(bare, "tag", "taken", "main")
    head = api.head("platform/config", "main")
    api.log.clear()
    code, _ = via_gitlab(gitlab, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "taken")
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert api.head("platform/config", "main") == head
    assert not [r for r in api.log if r.method == "POST"]


def test_gitlab_answers_tag_already_exists_as_documented(gitlab):  # noqa: F811
    """The stand-in's own contract, through python-gitlab: 400 "Tag X already exists"."""
    import gitlab as gl

    server, api, bare = gitlab
    client = gl.Gitlab(api.url, private_token=GITLAB_TOKEN)
    project = client.projects.get("platform/config", lazy=True)
    sha = api.head("platform/config", "main")
    project.tags.create({"tag_name": "v1", "ref": sha, "message": "one"})
    with pytest.raises(gl.exceptions.GitlabCreateError) as info:
        project.tags.create({"tag_name": "v1", "ref": sha})
    assert info.value.response_code == 400 and "Tag v1 already exists" in str(info.value)
    project.releases.create({"tag_name": "v1", "name": "one", "description": "d"})
    with pytest.raises(gl.exceptions.GitlabCreateError) as info:
        project.releases.create({"tag_name": "v1", "name": "again"})
    assert info.value.response_code == 409
    with pytest.raises(gl.exceptions.GitlabGetError) as info:
        project.tags.get("nope")
    assert info.value.response_code == 404


# canaries ------------------------------------------------------------------------------------


def test_a_canary_takes_no_tag():
    """A canary makes one commit per step: `mlgate canary` has no --tag, and a pipeline
    environment promoting by canary refuses the promote section's tag (exit 2, one line)."""
    from mlgate.errors import BadInput
    from mlgate.pipeline.canary import canary_inputs
    from mlgate.pipeline.config import Environment
    from mlgate.stages.canary import STAGE as CANARY

    assert not {"tag", "release"} & {p.name for p in CANARY.params}
    env = Environment("production", (), None, None, (), (), {}, canary={"steps": "1,100"})
    with pytest.raises(BadInput, match="promote's tag does not apply to a canary"):
        canary_inputs(env, {"repo": "r", "tag": "q2"}, [], None)
    assert "tag" not in canary_inputs(env, {"repo": "r", "tag": ""}, [], None)


# exact results (each word of a refusal is what a user reads; mutation testing holds them) -----


def test_the_refusals_say_exactly_this():
    from mlgate.promote.tagging import taken

    assert taken("q2") == (
        "--tag 'q2': a tag of that name already exists on the config repo; a tag names one "
        "promotion and is never moved: choose another name (e.g. add {date} or {version}); "
        "nothing was pushed")
    assert taken("q2", meanwhile=True) == (
        "--tag 'q2': a tag of that name was created on the config repo meanwhile; a tag names "
        "one promotion and is never moved: choose another name (e.g. add {date} or {version}); "
        "nothing was pushed (the atomic push refused the branch too)")


def test_an_existing_tag_is_refused_with_exactly_that_line(remote, tmp_path, capsys):
    git(remote, "tag", "churn-prod", "main")
    git(remote, "tag", "-a", "-m", "annotated", "team/churn-prod", "main")  # same tail
    code, _ = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "churn-prod")
    assert code == 2
    from mlgate.promote.tagging import taken

    assert capsys.readouterr().err.strip() == f"mlgate promote: error: {taken('churn-prod')}"


def test_a_name_only_sharing_a_tail_with_an_existing_tag_is_free(remote, tmp_path):
    """ls-remote matches a pattern by its tail (refs/tags/x/churn-prod matches churn-prod):
    only the exact ref means taken."""
    git(remote, "tag", "-a", "-m", "theirs", "team/churn-prod", "main")
    code, doc = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "churn-prod")
    assert code == 0, doc
    assert git(remote, "cat-file", "-t", "churn-prod").strip() == "tag"


def test_an_unreachable_remote_at_the_tag_check_is_a_service_error(remote, tmp_path, capsys,
                                                                   monkeypatch):
    from mlgate.promote import landing
    from mlgate.promote.git import GitError

    class Unreachable:
        def run(self, *args, **kw):
            raise GitError(("ls-remote",), 128, "", "fatal: unable to access 'x': Could not "
                           "resolve host: config.example")

    def check(g, checkout, name, url):
        from mlgate.promote.tagging import check_free_git

        check_free_git(Unreachable(), checkout, name, url)

    monkeypatch.setattr(landing, "check_free_git", check)
    before = refs(remote)
    code, _ = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "q3")
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlgate promote: error: ") and "config.example" in err
    assert refs(remote) == before


def test_the_tag_is_annotated_with_the_summary_and_not_signed_by_git_config(remote, tmp_path):
    """tag.gpgSign in the user's git config must not sign (or fail) a tag mlgate makes
    unsigned; the tag's message is the promotion's summary."""
    code, doc = promote(remote, tmp_path, "--image", f"{IMG}:v1.5.0", "--tag", "q4",
                        env={**ENV, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "tag.gpgSign",
                             "GIT_CONFIG_VALUE_0": "true"})
    assert code == 0, doc
    body = git(remote, "cat-file", "-p", "q4")
    assert body.startswith(f"object {git(remote, 'rev-parse', 'main').strip()}\ntype commit\n"
                           "tag q4\n")
    assert "-----BEGIN" not in body
    assert "promote churn to staging: v1.4.0 -> v1.5.0" in body


def test_an_invalid_name_is_shown_as_given_and_as_expanded():
    from mlgate.errors import BadInput
    from mlgate.promote.tagging import MAX_NAME, check_name, expand

    rules = ("not a valid git tag name (git check-ref-format refs/tags/NAME: no spaces, '..', "
             "'~', '^', ':', '?', '*', '[', '\\', '@{', control characters, no '/' at either "
             f"end; at most {MAX_NAME} bytes)")
    with pytest.raises(BadInput) as plain:
        check_name("q2 model", "q2 model")
    assert str(plain.value) == f"--tag 'q2 model': {rules}"
    with pytest.raises(BadInput) as templated:
        expand("{app} q2", {"app": "churn"})
    assert str(templated.value) == f"--tag '{{app}} q2' ('churn q2'): {rules}"
    assert check_name("x" * MAX_NAME, "x" * MAX_NAME) == "x" * MAX_NAME   # the cap itself fits
    with pytest.raises(BadInput):
        check_name("x" * (MAX_NAME + 1), "x")


def test_the_image_tag_is_the_first_images():
    from mlgate.promote.message import Promotion
    from mlgate.promote.tagging import image_tag

    two = Promotion("churn", "staging", {}, {"reg/a": "reg.example.com/a:v1.5.0, reg.example."
                                                      "com/b:v9"})
    assert image_tag(two) == "v1.5.0"
    assert image_tag(Promotion("churn", "staging", {}, {})) is None
    assert image_tag(Promotion("churn", "staging", {}, {"x": "not a reference!"})) is None


def test_the_tag_message_names_each_gate_and_the_evidence():
    from mlgate.promote.message import Evidence, Promotion
    from mlgate.promote.tagging import message

    gates = (Evidence("v.json", "a" * 64, "validate", "", 0, "t"),
             Evidence("b.json", "b" * 64, "benchmark", "", 1, "t"),
             Evidence("s.json", "c" * 64, "scan", "passed with warnings", 0, "t"))
    p = Promotion("churn", "staging", {}, {}, evidence=gates,
                  evidence_dir=".mlgate/evidence/churn/staging/1")
    text = message(p, "promote churn")
    line = text.splitlines()[2]
    assert text.startswith("promote churn\n\n") and text.endswith("\n")
    assert line == ("mlgate promotion of churn to staging: validate passed, benchmark failed, "
                    "scan passed with warnings; evidence .mlgate/evidence/churn/staging/1")
    bare = message(Promotion("churn", "prod", {}, {}), "s")
    assert bare == "s\n\nmlgate promotion of churn to prod: no gate evidence attached\n"


def test_long_names_are_cut_at_80_characters_in_messages():
    from mlgate.promote.tagging import _shown

    assert _shown("a" * 80) == repr("a" * 80)
    assert _shown("a" * 81) == repr("a" * 80 + "…")


def test_placeholder_refusals_say_exactly_this():
    from mlgate.errors import BadInput
    from mlgate.promote.tagging import expand

    with pytest.raises(BadInput) as unknown:
        expand("{" + "k" * 40 + "}", {})
    assert str(unknown.value) == (
        f"--tag {'{' + 'k' * 40 + '}'!r}: unknown placeholder {{{'k' * 30}}}; use {{app}}, "
        "{environment}, {version}, {tag}, {date}")
    with pytest.raises(BadInput) as empty:
        expand("{app}-x", {"app": None})
    assert str(empty.value) == "--tag '{app}-x': {app} has no value here (not known)"
    with pytest.raises(BadInput) as no_tag:
        expand("{tag}", {"tag": None})
    assert str(no_tag.value) == ("--tag '{tag}': {tag} has no value here (the promotion sets "
                                 "no image tag)")


def test_an_empty_registry_version_is_no_version():
    from mlgate.promote.message import Promotion
    from mlgate.promote.tagging import model_version

    assert model_version(Promotion("churn", "staging", {}, {}, registry="churn@champion 3 -> ")) \
        is None
    assert model_version(Promotion("churn", "staging", {}, {}, registry="churn@champion 3 -> 4")) \
        == "4"
    assert model_version(Promotion("churn", "staging", {}, {})) is None


def test_spec_refusals_and_the_day_say_exactly_this():
    from mlgate.errors import BadInput
    from mlgate.promote.tagging import TagSpec, spec

    for args, said in (
            ((None, True, "push", "github"),
             "--release needs --tag NAME: a release is made on the promotion's tag"),
            (("q2", False, "pull-request", "github"),
             "--tag: --mode pull-request lands nothing until the request is merged; tag the "
             "merged commit (run promote in push mode, or tag after the merge)"),
            (("q2", True, "push", "git"),
             "--release needs --provider github or gitlab: plain git has no releases (the "
             "annotated tag carries the promotion's summary)")):
        with pytest.raises(BadInput) as refused:
            spec(*args)
        assert str(refused.value) == said
    assert spec("q2", True, "push", "gitlab", now=1_796_000_000) == TagSpec("q2", True,
                                                                          "2026-11-30")
    assert spec("q2", False, "push", "git", now=1_000_000_000).date == "2001-09-09"
    assert spec(None, False, "push", "git") is None
