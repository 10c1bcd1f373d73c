"""A move that waited for verify: `move_alias(only_from=...)` refuses when someone moved the
alias since the promotion recorded it, writing nothing; `extra_tags` ride along before the alias;
`version_tag` reads a tag back. Against MLflow's real sqlite registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlgate.errors import BadInput, GateFailed
from mlgate.registry.mlflow_alias import (
    HTTP_RETRY_DEFAULTS,
    TAG_CONFIG_COMMIT,
    TAG_PROMOTED_ALIAS,
    TAG_VERIFIED_PREFIX,
    move_alias,
    version_tag,
)
from mlgate.registry.result import AliasMove

MODEL, ALIAS = "churn", "champion"
SHA = "ab" * 20
VERIFIED = f"{TAG_VERIFIED_PREFIX}production"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _clean_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_TOKEN",
                 *HTTP_RETRY_DEFAULTS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return path


@pytest.fixture
def reg(tmp_path: Path, template_db: Path):
    """(uri, client): MODEL with versions 1..3, champion on 1."""
    import mlflow

    shutil.copyfile(template_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    (tmp_path / "model").mkdir()
    for _ in range(3):
        client.create_model_version(MODEL, source=str(tmp_path / "model"), run_id=None)
    client.set_registered_model_alias(MODEL, ALIAS, "1")
    return uri, client


def state(client) -> tuple:
    """Everything a refused move must leave as it was: aliases, tags, update times."""
    versions = [client.get_model_version(MODEL, v) for v in ("1", "2", "3")]
    return (dict(client.get_registered_model(MODEL).aliases),
            [(dict(v.tags), v.last_updated_timestamp) for v in versions])


def test_a_guarded_move_from_where_the_promotion_found_it(reg) -> None:
    uri, client = reg
    moved = move_alias(MODEL, ALIAS, "2", commit=SHA, config_repo="/srv/config",
                       tracking_uri=uri, only_from=("1",), extra_tags={VERIFIED: SHA})
    assert moved == AliasMove(MODEL, ALIAS, "1", "2", changed=True)
    tags = dict(client.get_model_version(MODEL, "2").tags)
    assert tags[VERIFIED] == SHA and tags[TAG_CONFIG_COMMIT] == SHA
    assert tags[TAG_PROMOTED_ALIAS] == ALIAS
    # a re-run: already there, so not refused; the tags are written again, the alias is not
    again = move_alias(MODEL, ALIAS, "2", commit=SHA, config_repo=None, tracking_uri=uri,
                       only_from=("1",), extra_tags={VERIFIED: SHA})
    assert again == AliasMove(MODEL, ALIAS, "2", "2", changed=False)


def test_a_guarded_move_refuses_an_alias_moved_since_and_writes_nothing(reg) -> None:
    uri, client = reg
    client.set_registered_model_alias(MODEL, ALIAS, "3")  # someone else's move
    before = state(client)
    with pytest.raises(GateFailed, match=r"now points to version 3, not version 1 .*moved since"):
        move_alias(MODEL, ALIAS, "2", commit=SHA, config_repo=None, tracking_uri=uri,
                   only_from=("1",), extra_tags={VERIFIED: SHA})
    assert state(client) == before


def test_a_guarded_move_from_no_alias(reg) -> None:
    uri, client = reg
    client.delete_registered_model_alias(MODEL, ALIAS)
    assert move_alias(MODEL, ALIAS, "2", commit=SHA, config_repo=None, tracking_uri=uri,
                      only_from=(None,)).changed
    client.set_registered_model_alias(MODEL, ALIAS, "1")
    before = state(client)
    with pytest.raises(GateFailed, match="not no version"):
        move_alias(MODEL, ALIAS, "3", commit=SHA, config_repo=None, tracking_uri=uri,
                   only_from=(None,))
    assert state(client) == before
    client.delete_registered_model_alias(MODEL, ALIAS)  # the guard reads deleted as deleted
    with pytest.raises(GateFailed, match="no version \\(deleted\\), not version 1"):
        move_alias(MODEL, ALIAS, "3", commit=SHA, config_repo=None, tracking_uri=uri,
                   only_from=("1",))


@pytest.mark.parametrize("tags", [{"mlgate.verified.prod\nuction": SHA},
                                  {VERIFIED: f"{SHA}\nmlgate.config_commit: forged"}])
def test_a_tag_that_is_not_one_line_is_refused_before_anything_is_written(reg, tags) -> None:
    uri, client = reg
    before = state(client)
    with pytest.raises(BadInput, match="not one line"):
        move_alias(MODEL, ALIAS, "2", commit=SHA, config_repo=None, tracking_uri=uri,
                   extra_tags=tags)
    assert state(client) == before


def test_version_tag_reads_what_is_there_and_nothing_else(reg) -> None:
    uri, client = reg
    client.set_model_version_tag(MODEL, "2", VERIFIED, SHA)
    assert version_tag(MODEL, "2", VERIFIED, tracking_uri=uri) == SHA
    assert version_tag(MODEL, "3", VERIFIED, tracking_uri=uri) is None
    assert version_tag(MODEL, "2", f"{TAG_VERIFIED_PREFIX}staging", tracking_uri=uri) is None
    assert version_tag(MODEL, "9", VERIFIED, tracking_uri=uri) is None  # no version: no tag
    with pytest.raises(BadInput, match="registered model 'other' not found"):
        version_tag("other", "2", VERIFIED, tracking_uri=uri)
    with pytest.raises(BadInput, match="not a version number"):
        version_tag(MODEL, "2; drop", VERIFIED, tracking_uri=uri)
