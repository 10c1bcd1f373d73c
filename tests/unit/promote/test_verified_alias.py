"""`promote --alias-when verified`: the alias moves once verify passed on the live model, not
at the commit; sync-aliases and rollback agree. Real git config repos, MLflow's real sqlite
registry. Attacks: hand-made trailers and tags that claim a verification they do not have."""

from __future__ import annotations

import json

import pytest
from support.configrepo import example_remote, git
from support.mlflowreg import churn_registry

from mlgate.cli import main
from mlgate.errors import BadInput, GateFailed
from mlgate.promote.history import read_history
from mlgate.promote.message import Promotion, trailers
from mlgate.promote.settings import build_target
from mlgate.promote.verified_alias import confirm_alias
from mlgate.registry.result import AliasMove

IMG = "registry.example.com/ml/churn"
VERIFIED = "mlgate.verified.production"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    return churn_registry(tmp_path, monkeypatch, versions=3)


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)


def alias(client):
    aliases = client.get_registered_model("churn").aliases
    return None if "champion" not in aliases else str(aliases["champion"])


def tags(client, version):
    return dict(client.get_model_version("churn", version).tags)


def registry_state(client):
    """What a refusal must leave untouched: the aliases, every version's tags and times."""
    versions = [client.get_model_version("churn", v) for v in ("1", "2", "3")]
    return (dict(client.get_registered_model("churn").aliases),
            [(dict(v.tags), v.last_updated_timestamp) for v in versions])


def base(remote, environment="production"):
    return ["--repo", str(remote), "--app", "churn", "--path", "apps/churn",
            "--environment", environment]


def promote(remote, uri, version, tag, *extra, environment="production", when="verified"):
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri}
    code = main(["promote", *base(remote, environment), "--image", f"{IMG}:{tag}",
                 "--registry-model", "churn", "--registry-version", version,
                 "--registry-alias", "champion", "--alias-when", when, *extra], environ=env)
    assert code == 0
    return head(remote)


def rollback(remote, uri, *extra):
    return main(["rollback", *base(remote), *extra],
                environ={"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri})


def sync(remote, uri, json_path=None):
    argv = ["sync-aliases", "--repo", str(remote), "--tracking-uri", uri]
    if json_path:
        argv += ["--json", str(json_path)]
    return main(argv, environ={"PATH": "/usr/bin:/bin"})


def head(remote):
    return git(remote, "rev-parse", "main").strip()


def confirm(remote, uri, commit, environment="production"):
    target = build_target(repo=str(remote), provider="git", mode="push", base="main",
                          api_url=None, environ={})
    return confirm_alias(target, "churn", environment, commit, uri)


def hand_commit(tmp_path, remote, lines, environment="production"):
    """A promotion commit nobody ran mlgate for: trailers written by hand."""
    work = tmp_path / f"work-{abs(hash(lines))}"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m",
        f"promote churn\n\nMlgate-App: churn\nMlgate-Environment: {environment}\n"
        f"Mlgate-Previous: {IMG}:v1\nMlgate-New: {IMG}:v2\n{lines}")
    git(work, "push", "-q", "origin", "main")
    return head(remote)


# --- promote records the move and leaves the alias ------------------------------------------


def test_the_trailer_says_when_and_only_when_the_alias_waits() -> None:
    p = Promotion(app="churn", environment="production", previous={}, new={IMG: f"{IMG}:v2"},
                  registry="churn@champion 1 -> 2")
    assert ("Mlgate-Alias-When", "verified") not in trailers(p)
    assert [k for k, _ in trailers(p)].count("Mlgate-Alias-When") == 0
    waits = trailers(Promotion(**{**p.__dict__, "alias_when": "verified"}))
    names = [k for k, _ in waits]
    assert names[names.index("Mlgate-Registry") + 1] == "Mlgate-Alias-When"
    assert ("Mlgate-Alias-When", "verified") in waits


def test_promote_with_alias_when_verified_leaves_the_alias(registry, remote, tmp_path,
                                                           capsys) -> None:
    uri, client = registry
    out = tmp_path / "promote.json"
    commit = promote(remote, uri, "2", "v1.5.0", "--json", str(out))
    assert alias(client) == "1"
    assert not any(k.startswith("mlgate.") for k in tags(client, "2"))
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert "Mlgate-Registry: churn@champion 1 -> 2\nMlgate-Alias-When: verified" in message
    assert "registry alias champion moves once verify passes" in capsys.readouterr().out
    result = json.loads(out.read_text())["result"]
    assert result["registry"] is None
    assert any("moves once verify passes" in n for n in result["notes"])
    assert result["promotion"]["alias_when"] == "verified"
    target = build_target(repo=str(remote), provider="git", mode="push", base="main",
                          api_url=None, environ={})
    [record] = read_history(target, "churn", "production")
    assert record.sha == commit and record.alias_when == "verified" and record.alias_waits


def test_alias_when_landed_is_the_default_and_records_nothing_new(registry, remote) -> None:
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0", when="landed")
    assert alias(client) == "2"
    assert "Mlgate-Alias-When" not in git(remote, "log", "-1", "--format=%B", "main")


def test_alias_when_takes_only_landed_or_verified(registry, remote, capsys) -> None:
    uri, client = registry
    code = main(["promote", *base(remote), "--image", f"{IMG}:v1.5.0", "--registry-model",
                 "churn", "--registry-version", "2", "--registry-alias", "champion",
                 "--alias-when", "merged"], environ={"PATH": "/usr/bin:/bin",
                                                     "MLFLOW_TRACKING_URI": uri})
    assert code == 2 and "--alias-when" in capsys.readouterr().err
    assert head(remote) == git(remote, "rev-list", "--max-parents=0", "main").strip()


# --- confirm_alias: what verify calls after a Successful run --------------------------------


def test_confirm_tags_the_version_then_moves_the_alias_once(registry, remote) -> None:
    uri, client = registry
    commit = promote(remote, uri, "2", "v1.5.0")
    assert confirm(remote, uri, commit) == AliasMove("churn", "champion", "1", "2", changed=True)
    assert alias(client) == "2"
    assert tags(client, "2")[VERIFIED] == commit
    assert tags(client, "2")["mlgate.config_commit"] == commit
    assert tags(client, "2")["mlgate.config_repo"] == f"file://{remote}"
    # a re-run (verify retried) is not an error and changes nothing
    assert confirm(remote, uri, commit) == AliasMove("churn", "champion", "2", "2",
                                                     changed=False)
    assert alias(client) == "2" and head(remote) == commit


def test_confirm_has_nothing_to_do_for_a_move_that_did_not_wait(registry, remote) -> None:
    uri, client = registry
    landed = promote(remote, uri, "2", "v1.5.0", when="landed")
    client.set_registered_model_alias("churn", "champion", "3")
    before = registry_state(client)
    assert confirm(remote, uri, landed) is None
    env = {"PATH": "/usr/bin:/bin"}
    assert main(["promote", *base(remote), "--image", f"{IMG}:v1.6.0"], environ=env) == 0
    assert confirm(remote, uri, head(remote)) is None  # no registry trailer at all
    assert registry_state(client) == before


def test_confirm_refuses_an_alias_someone_moved_meanwhile(registry, remote) -> None:
    uri, client = registry
    commit = promote(remote, uri, "2", "v1.5.0")
    client.set_registered_model_alias("churn", "champion", "3")  # by hand, meanwhile
    before = registry_state(client)
    with pytest.raises(GateFailed, match="now points to version 3, not version 1"):
        confirm(remote, uri, commit)
    assert registry_state(client) == before  # not even the verified tag


def test_confirm_refuses_a_promotion_the_environment_no_longer_runs(registry, remote) -> None:
    uri, client = registry
    first = promote(remote, uri, "2", "v1.5.0")
    second = promote(remote, uri, "3", "v1.6.0")
    assert "churn@champion 1 -> 3" in git(remote, "log", "-1", "--format=%B", "main")
    before = registry_state(client)
    with pytest.raises(GateFailed, match="no longer the latest"):
        confirm(remote, uri, first)  # verify of the first finished after the second landed
    assert registry_state(client) == before
    assert confirm(remote, uri, second).new_version == "3"
    # rolled back: not live any more, whatever verify thought of it
    assert rollback(remote, uri) == 0
    before = registry_state(client)
    with pytest.raises(GateFailed, match="not a live promotion"):
        confirm(remote, uri, second)
    assert registry_state(client) == before


@pytest.mark.parametrize("commit,error,text", [
    ("f" * 40, GateFailed, "not an mlgate promotion of churn in production"),
    ("HEAD", BadInput, "not a full commit sha"),
    ("f" * 39, BadInput, "not a full commit sha"),
])
def test_confirm_refuses_what_is_not_a_promotion(registry, remote, commit, error, text) -> None:
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0")
    before = registry_state(client)
    with pytest.raises(error, match=text):
        confirm(remote, uri, commit)
    assert registry_state(client) == before


def test_confirm_of_another_environment_is_not_this_one(registry, remote) -> None:
    uri, client = registry
    commit = promote(remote, uri, "2", "v1.5.0")
    with pytest.raises(GateFailed, match="not an mlgate promotion of churn in staging"):
        confirm(remote, uri, commit, environment="staging")
    with pytest.raises(BadInput):
        confirm(remote, uri, commit, environment="../production")
    assert alias(client) == "1"


# --- sync-aliases agrees -------------------------------------------------------------------


def test_sync_leaves_a_waiting_move_and_follows_a_confirmed_one(registry, remote,
                                                                 tmp_path) -> None:
    uri, client = registry
    commit = promote(remote, uri, "2", "v1.5.0")
    out = tmp_path / "sync.json"
    assert sync(remote, uri, out) == 0
    assert alias(client) == "1"
    report = json.loads(out.read_text())
    assert report["outputs"]["changed"] == "false"
    assert report["result"]["aliases"][0]["note"] == f"promotion {commit[:12]} waits for verify"
    client.set_registered_model_alias("churn", "champion", "2")  # moved by hand, unverified
    assert sync(remote, uri) == 0
    assert alias(client) == "1"  # the alias names no unverified model
    assert confirm(remote, uri, commit).changed
    assert sync(remote, uri, out) == 0 and alias(client) == "2"
    stamp = client.get_model_version("churn", "2").last_updated_timestamp
    assert sync(remote, uri, out) == 0  # idempotent: nothing written
    assert json.loads(out.read_text())["outputs"]["changed"] == "false"
    assert client.get_model_version("churn", "2").last_updated_timestamp == stamp


def test_a_waiting_move_holds_the_alias_at_the_last_one_that_counted(registry, remote) -> None:
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0", when="landed")
    waiting = promote(remote, uri, "3", "v1.6.0")
    assert "churn@champion 2 -> 3" in git(remote, "log", "-1", "--format=%B", "main")
    client.set_registered_model_alias("churn", "champion", "1")
    assert sync(remote, uri) == 0 and alias(client) == "2"
    assert confirm(remote, uri, waiting).new_version == "3"
    assert sync(remote, uri) == 0 and alias(client) == "3"


def test_the_last_move_that_counted_wins_over_a_waiting_ones_before(registry, remote) -> None:
    """The alias was moved by hand between two promotions: the waiting one recorded that hand
    move as its `before`, but the environment's record says the alias names version 2."""
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0", when="landed")
    client.set_registered_model_alias("churn", "champion", "1")
    promote(remote, uri, "3", "v1.6.0")
    assert "churn@champion 1 -> 3" in git(remote, "log", "-1", "--format=%B", "main")
    assert sync(remote, uri) == 0 and alias(client) == "2"
    # confirming finds the alias where sync-aliases held it, not moved by someone else
    assert confirm(remote, uri, head(remote)) == AliasMove("churn", "champion", "2", "3",
                                                           changed=True)
    assert sync(remote, uri) == 0 and alias(client) == "3"


def test_a_waiting_move_still_meets_the_two_environments_refusal(registry, remote,
                                                                  capsys) -> None:
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0", environment="staging")  # waits: staging wants 1
    promote(remote, uri, "3", "v1.6.0", environment="production", when="landed")
    capsys.readouterr()
    assert sync(remote, uri) == 2
    assert "MLflow alias churn@champion:" in capsys.readouterr().err
    assert alias(client) == "3"


# --- rollback agrees -----------------------------------------------------------------------


def test_rollback_of_a_waiting_move_leaves_the_alias(registry, remote, capsys) -> None:
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0")
    client.set_registered_model_alias("churn", "champion", "3")  # not the rollback's business
    before = registry_state(client)
    capsys.readouterr()
    assert rollback(remote, uri) == 0
    assert "not moved back" in capsys.readouterr().out
    assert registry_state(client) == before
    assert "newTag: v1.4.0" in git(remote, "show", "main:apps/churn/production/kustomization.yaml")


def test_rollback_of_a_confirmed_move_moves_it_back(registry, remote) -> None:
    uri, client = registry
    commit = promote(remote, uri, "2", "v1.5.0")
    confirm(remote, uri, commit)
    assert rollback(remote, uri) == 0
    assert alias(client) == "1"
    assert sync(remote, uri) == 0 and alias(client) == "1"


def test_rollback_over_a_waiting_move_restores_from_the_last_real_one(registry, remote) -> None:
    uri, client = registry
    promote(remote, uri, "2", "v1.5.0", when="landed")
    promote(remote, uri, "3", "v1.6.0")  # waits; the alias stays on 2
    assert alias(client) == "2"
    assert rollback(remote, uri, "--steps", "2") == 0
    assert alias(client) == "1"


# --- hostile records -----------------------------------------------------------------------


@pytest.mark.parametrize("when", ["junk", "Verified", "verified; landed",
                                  "landed\nMlgate-Alias-When: verified"])
def test_a_hand_made_alias_when_never_moves_the_alias(registry, remote, tmp_path,
                                                      when) -> None:
    uri, client = registry
    commit = hand_commit(tmp_path, remote,
                         f"Mlgate-Registry: churn@champion 1 -> 2\nMlgate-Alias-When: {when}")
    client.set_model_version_tag("churn", "2", VERIFIED, commit)  # even "verified" by tag
    before = registry_state(client)
    assert sync(remote, uri) == 0
    assert registry_state(client) == before
    with pytest.raises(BadInput, match="Mlgate-Alias-When"):
        confirm(remote, uri, commit)
    assert registry_state(client) == before


@pytest.mark.parametrize("where", ["another commit", "another environment", "another version"])
def test_a_verified_tag_that_is_not_for_this_promotion_counts_for_nothing(
        registry, remote, tmp_path, where) -> None:
    uri, client = registry
    commit = hand_commit(tmp_path, remote,
                         "Mlgate-Registry: churn@champion 1 -> 2\nMlgate-Alias-When: verified")
    version, key, value = "2", VERIFIED, commit
    if where == "another commit":
        value = git(remote, "rev-parse", "main~1").strip()
    elif where == "another environment":
        key = "mlgate.verified.staging"
    else:
        version = "3"
    client.set_model_version_tag("churn", version, key, value)
    client.set_registered_model_alias("churn", "champion", "2")  # moved by hand meanwhile
    assert sync(remote, uri) == 0
    assert alias(client) == "1"  # held where it was before the promotion


def test_a_waiting_trailer_naming_a_missing_version_holds_the_alias(registry, remote,
                                                                    tmp_path) -> None:
    uri, client = registry
    hand_commit(tmp_path, remote,
                "Mlgate-Registry: churn@champion 1 -> 9\nMlgate-Alias-When: verified")
    assert sync(remote, uri) == 0 and alias(client) == "1"
