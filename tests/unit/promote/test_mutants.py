"""What a promotion plans and reports, tested directly and fast.

`make_planner(cfg)(checkout)` is what every landing attempt runs on the head it sees: here it
runs on a plain copy of the example config repo, so each case states exactly which values the
commit will change and what its trailers will say, without git. `promote()` itself is driven
through a landing stand-in that checks out only the folders it is asked for (as the sparse
clone does), and the result is rendered as users see it: the outputs, the summary table and
sections. `test_git.py` covers the same paths over real git.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from support.configrepo import EXAMPLES

import mlgate.promote.promote as promote_module
from mlgate.errors import BadInput
from mlgate.manifests.config import ImageTarget, RewriteConfig, SetTarget, parse_path
from mlgate.manifests.reference import parse_user_reference
from mlgate.manifests.result import Change, RewriteResult
from mlgate.promote.git import Credentials
from mlgate.promote.config import Identity, Options, PromoteConfig, RegistrySpec, Target
from mlgate.promote.landing import Landed, Planned
from mlgate.promote.message import Evidence, Promotion, SetChange
from mlgate.promote.promote import build_result, make_planner, promote
from mlgate.promote.result import ChangeRequestResult, PromoteResult
from mlgate.report.markdown import render_summary
from mlgate.report.promote import present

IMG = "registry.example.com/ml/churn"
DIGEST = "sha256:" + "c" * 64
PROD, STAGING = "apps/churn/production", "apps/churn/staging"
URI = "spec.predictor.model.storageUri"
ME = Identity("mlgate", "mlgate@example.invalid")
GITHUB_ENV = {"GITHUB_REPOSITORY": "team/churn-model", "GITHUB_SHA": "a" * 40,
              "GITHUB_RUN_ID": "42"}


def target(mode: str = "push", provider: str = "git", token: str | None = None) -> Target:
    return Target(url="https://bot:s3cret@git.example.com/team/config.git", provider=provider,
                  mode=mode, base="main",
                  credentials=Credentials("bot", token) if token else None)


def config(**kw) -> PromoteConfig:
    base = dict(target=target(), options=Options(author=ME, committer=ME), app="churn",
                environment="production", env_path=PROD)
    base.update(kw)
    return PromoteConfig(**base)


@pytest.fixture
def checkout(tmp_path: Path) -> str:
    folder = tmp_path / "checkout"
    shutil.copytree(EXAMPLES, folder)
    return str(folder)


def write(checkout: str, rel: str, text: str) -> None:
    path = Path(checkout, rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def deployment(*images: str) -> str:
    containers = "".join(f"        - name: c{i}\n          image: {img}\n"
                         for i, img in enumerate(images))
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: churn\nspec:\n"
            "  template:\n    spec:\n      containers:\n" + containers)


def ref(text: str):
    return parse_user_reference(text, "--image", need_version=False)


# --- what a plan changes and records -----------------------------------------------------


def test_an_image_promotion_plans_the_new_tag_with_its_trailers(checkout) -> None:
    ev = (Evidence("b.json", "ab" * 32, "benchmark", "passed", 0, "ok"),)
    cfg = config(images=(f"{IMG}:v1.5.0",), expect_current=(f"{IMG}:v1.4.0",), evidence=ev,
                 environ=GITHUB_ENV, rollback_of="f" * 40)
    planned = make_planner(cfg)(checkout)
    assert planned == Planned(
        RewriteConfig(root=checkout, paths=(PROD,),
                      images=(ImageTarget(ref(f"{IMG}:v1.5.0"), ref(f"{IMG}:v1.4.0")),),
                      sets=(), flux_policies=()),
        Promotion(app="churn", environment="production", previous={IMG: f"{IMG}:v1.4.0"},
                  new={IMG: f"{IMG}:v1.5.0"}, sets=(),
                  source="https://github.com/team/churn-model@" + "a" * 40,
                  run_url="https://github.com/team/churn-model/actions/runs/42",
                  evidence=ev, registry=None, rollback_of="f" * 40, from_environment=None,
                  folder=PROD))


def test_a_value_promotion_records_the_old_and_new_value(checkout) -> None:
    cfg = config(sets=(f"model-version.yaml:{URI}=s3://models/churn/4",
                       "model-version.yaml:spec.predictor.model.runtime=sklearn"))
    planned = make_planner(cfg)(checkout)
    file = f"{PROD}/model-version.yaml"
    assert planned.config.images == ()
    assert planned.config.sets == (
        SetTarget(file, parse_path(URI, "x"), "s3://models/churn/4",
                  f"model-version.yaml:{URI}=s3://models/churn/4"),
        SetTarget(file, parse_path("spec.predictor.model.runtime", "x"), "sklearn",
                  "model-version.yaml:spec.predictor.model.runtime=sklearn"))
    # a key the file does not have yet has no previous value
    assert planned.promotion.sets == (
        SetChange(file, URI, "s3://models/churn/3", "s3://models/churn/4"),
        SetChange(file, "spec.predictor.model.runtime", None, "sklearn"))
    assert planned.promotion.new == {} and planned.promotion.previous == {}
    assert (planned.promotion.source, planned.promotion.run_url) == (None, None)


def test_from_environment_copies_what_the_source_runs(checkout) -> None:
    write(checkout, f"{STAGING}/kustomization.yaml",
          Path(checkout, f"{STAGING}/kustomization.yaml").read_text().replace(
              "newTag: v1.4.0", f"newTag: v1.5.0\n    digest: {DIGEST}"))
    write(checkout, f"{STAGING}/model-version.yaml",
          Path(checkout, f"{STAGING}/model-version.yaml").read_text().replace(
              "churn/3", "churn/4").replace('"3"', '"4"'))
    cfg = config(images=(IMG,), from_environment="staging", from_path=STAGING,
                 sets=("kustomization.yaml:namespace=churn-prod",
                       "model-version.yaml:metadata.annotations[\"mlgate.io/model-version\"]",
                       f"model-version.yaml:{URI}"))
    planned = make_planner(cfg)(checkout)
    new = f"{IMG}:v1.5.0@{DIGEST}"
    assert planned.config.images == (ImageTarget(ref(new), None),)
    # a value given is promoted as given; a value not given is read from staging
    assert [(t.file, t.value) for t in planned.config.sets] == [
        (f"{PROD}/kustomization.yaml", "churn-prod"), (f"{PROD}/model-version.yaml", "4"),
        (f"{PROD}/model-version.yaml", "s3://models/churn/4")]
    p = planned.promotion
    assert (p.previous, p.new, p.from_environment) == ({IMG: f"{IMG}:v1.4.0"}, {IMG: new},
                                                      "staging")
    assert [(s.old, s.new) for s in p.sets] == [
        ("churn-production", "churn-prod"), ("3", "4"),
        ("s3://models/churn/3", "s3://models/churn/4")]


def test_from_environment_with_a_version_takes_the_version_from_the_source(checkout) -> None:
    cfg = config(images=(f"{IMG}:v9",), from_environment="staging", from_path=STAGING)
    planned = make_planner(cfg)(checkout)
    assert planned.promotion.new == {IMG: f"{IMG}:v1.4.0"}


def test_several_versions_in_the_environment_are_all_recorded_once(checkout) -> None:
    write(checkout, f"{PROD}/extra.yaml", deployment(f"{IMG}:v1.3.0", f"{IMG}:v1.4.0",
                                                     f"{IMG}:v1.3.0"))
    planned = make_planner(config(images=(f"{IMG}:v1.5.0",)))(checkout)
    previous = planned.promotion.previous[IMG].split(", ")
    assert sorted(previous) == [f"{IMG}:v1.3.0", f"{IMG}:v1.4.0"]


def test_the_trailer_spells_the_image_as_the_environment_does(checkout) -> None:
    write(checkout, f"{PROD}/nginx.yaml", deployment("nginx:1.0"))
    planned = make_planner(config(images=("docker.io/library/nginx:1.1",
                                          "quay.io/team/new:v1")))(checkout)
    p = planned.promotion
    nginx = "docker.io/library/nginx"
    assert p.previous == {nginx: "nginx:1.0"}
    # the environment says "nginx", so the record says "nginx" too; an image the
    # environment does not have yet keeps the spelling given
    assert p.new == {nginx: "nginx:1.1", "quay.io/team/new": "quay.io/team/new:v1"}
    assert [t.ref for t in planned.config.images] == [ref("docker.io/library/nginx:1.1"),
                                                     ref("quay.io/team/new:v1")]


def test_the_registry_trailer_names_the_alias_before_and_after(checkout, monkeypatch) -> None:
    import mlgate.registry.mlflow_alias as alias

    asked = []

    def current_version(model, name, *, tracking_uri=None, registry_uri=None):
        asked.append((model, name, tracking_uri))
        return versions.pop(0)

    versions = ["3", None]
    monkeypatch.setattr(alias, "current_version", current_version)
    spec = RegistrySpec("churn", "4", "champion", "sqlite:///x.db")
    plan = make_planner(config(images=(f"{IMG}:v1.5.0",), registry=spec))
    assert plan(checkout).promotion.registry == "churn@champion 3 -> 4"
    assert plan(checkout).promotion.registry == "churn@champion none -> 4"
    assert asked == [("churn", "champion", "sqlite:///x.db")] * 2


# --- bad input, refused before anything is cloned --------------------------------------------


@pytest.mark.parametrize("kw, message", [
    (dict(images=(f"{IMG}:v1", f"{IMG}:v2")), "--image: the same repository is given twice"),
    (dict(images=("nginx:1", "docker.io/library/nginx:2")),
     "--image: the same repository is given twice"),
    (dict(images=(IMG,)), f"--image {IMG!r}: give a tag, a digest or both"),
    (dict(images=(f"{IMG}:v1",), expect_current=("b.example.com/x:v1", "a.example.com/y:v1")),
     "--expect-current: no --image for a.example.com/y, b.example.com/x"),
    (dict(images=(f"{IMG}:v1",), expect_current=("Not A Reference",)),
     "--expect-current 'Not A Reference': "),
    (dict(), "nothing to promote: give --image or --set"),
    (dict(sets=("../staging/model-version.yaml:spec.x=1",)),
     "--set '../staging/model-version.yaml:spec.x=1': must be inside the environment folder "
     f"{PROD}"),
    (dict(sets=("model-version.yaml:spec.x",)), "--set 'model-version.yaml:spec.x'"),
    (dict(sets=("../production/m.yaml:spec.x",), from_environment="staging",
          from_path=STAGING), "--set '../production/m.yaml:spec.x': must be inside the "
     f"environment folder {STAGING}"),
])
def test_bad_input_is_refused_before_cloning(kw, message) -> None:
    with pytest.raises(BadInput) as exc:
        make_planner(config(**kw))
    assert str(exc.value).startswith(message)


LONG = "l" * 130 + ".yaml"


def test_a_long_set_is_named_by_its_first_120_characters(checkout) -> None:
    spec = "../" + "x" * 200 + ".yaml:spec.a=1"
    with pytest.raises(BadInput) as exc:
        make_planner(config(sets=(spec,)))
    assert str(exc.value).startswith(f"--set {spec[:120]!r}: must be inside")
    spec = f"../production/{LONG}:spec.a"
    with pytest.raises(BadInput) as exc:
        make_planner(config(sets=(spec,), from_environment="staging", from_path=STAGING))
    assert str(exc.value).startswith(f"--set {spec[:120]!r}: must be inside the environment "
                                     f"folder {STAGING}")
    os.symlink("../staging/model-version.yaml", Path(checkout, PROD, LONG))
    spec = f"{LONG}:{URI}=s3://x"
    with pytest.raises(BadInput) as exc:
        make_planner(config(sets=(spec,)))(checkout)
    assert str(exc.value).startswith(f"--set {spec[:120]!r}: resolves to")
    os.symlink("../production/model-version.yaml", Path(checkout, STAGING, LONG))
    os.remove(Path(checkout, PROD, LONG))
    write(checkout, f"{PROD}/{LONG}", "spec: {}\n")
    spec = f"{LONG}:{URI}"
    with pytest.raises(BadInput) as exc:
        make_planner(config(sets=(spec,), from_environment="staging",
                            from_path=STAGING))(checkout)
    assert str(exc.value).startswith(f"--set {spec[:120]!r}: resolves to "
                                     "'apps/churn/production/model-version.yaml'")


def test_expected_current_is_matched_to_its_image(checkout) -> None:
    cfg = config(images=(f"{IMG}:v1.5.0", "quay.io/team/other:v2"),
                 expect_current=("quay.io/team/other:v1",))
    planned = make_planner(cfg)(checkout)
    assert planned.config.images == (ImageTarget(ref(f"{IMG}:v1.5.0"), None),
                                     ImageTarget(ref("quay.io/team/other:v2"),
                                                 ref("quay.io/team/other:v1")))


# --- bad checkouts --------------------------------------------------------------------------


def test_a_missing_environment_folder_is_named(checkout) -> None:
    plan = make_planner(config(images=(f"{IMG}:v1",), environment="qa", env_path="apps/churn/qa"))
    with pytest.raises(BadInput) as exc:
        plan(checkout)
    assert str(exc.value) == "environment 'qa': no folder 'apps/churn/qa' in the config repo"
    plan = make_planner(config(images=(f"{IMG}:v1",), env_path=f"{PROD}/kustomization.yaml"))
    with pytest.raises(BadInput, match="no folder"):
        plan(checkout)


def test_a_missing_source_environment_is_named(checkout) -> None:
    for path in ("apps/churn/qa", None):
        plan = make_planner(config(images=(IMG,), from_environment="qa", from_path=path))
        with pytest.raises(BadInput) as exc:
            plan(checkout)
        assert str(exc.value) == (
            f"environment 'qa': no folder {path or ''!r} in the config repo")


def test_a_symlinked_environment_folder_is_refused(checkout) -> None:
    os.symlink("staging", Path(checkout, "apps/churn/qa"))
    plan = make_planner(config(images=(f"{IMG}:v1",), environment="qa", env_path="apps/churn/qa"))
    with pytest.raises(BadInput) as exc:
        plan(checkout)
    assert str(exc.value).startswith("environment 'qa' (apps/churn/qa): apps/churn/qa is a "
                                      "symlink")


def test_a_set_file_that_is_a_symlink_out_of_the_folder_is_refused(checkout) -> None:
    os.symlink("../staging/model-version.yaml", Path(checkout, PROD, "linked.yaml"))
    plan = make_planner(config(sets=(f"linked.yaml:{URI}=s3://x",)))
    with pytest.raises(BadInput) as exc:
        plan(checkout)
    assert str(exc.value).startswith(
        f"--set 'linked.yaml:{URI}=s3://x': resolves to 'apps/churn/staging/model-version.yaml' "
        "through a symlink")


def test_a_source_file_that_is_a_symlink_out_of_the_source_is_refused(checkout) -> None:
    os.symlink("../production/model-version.yaml", Path(checkout, STAGING, "linked.yaml"))
    write(checkout, f"{PROD}/linked.yaml", "spec: {}\n")
    plan = make_planner(config(sets=(f"linked.yaml:{URI}",), from_environment="staging",
                               from_path=STAGING))
    with pytest.raises(BadInput) as exc:
        plan(checkout)
    assert str(exc.value).startswith(f"--set 'linked.yaml:{URI}': resolves to "
                                     "'apps/churn/production/model-version.yaml'")


def test_an_image_the_source_does_not_run_is_named(checkout) -> None:
    plan = make_planner(config(images=("quay.io/team/other",), from_environment="staging",
                               from_path=STAGING))
    with pytest.raises(BadInput) as exc:
        plan(checkout)
    assert str(exc.value) == "no reference to quay.io/team/other found in environment 'staging'"


# --- promote(): landing, the registry alias, and what users see ------------------------------


class FakeLanding:
    """`land` on a checkout holding only the folders it is asked for (the sparse clone)."""

    def __init__(self, root: Path, changed: bool = True, request=None):
        self.root, self.changed, self.request = root, changed, request
        self.calls: list[dict] = []

    def __call__(self, target, sparse, planner, options, provider, say, *, folder, tag=None):
        self.calls.append(dict(target=target, sparse=sparse, options=options,
                               provider=provider, folder=folder, tag=tag))
        checkout = self.root / f"attempt{len(self.calls)}"
        for rel in sparse:
            shutil.copytree(EXAMPLES / rel, checkout / rel)
        planned = planner(str(checkout))
        say("landed")
        change = Change(f"{PROD}/kustomization.yaml", 10, "images[0].newTag", "image",
                        "v1.4.0", "v1.5.0")
        rewrite = dataclasses.replace(_EMPTY_REWRITE, changes=(change,))
        return Landed(self.changed, "c0ffee" if self.changed else None, "base0", 2,
                      planned.promotion, rewrite, self.request, "promote churn ...\n")


_EMPTY_REWRITE = RewriteResult(root="", changes=(), unchanged=(), files=(), skipped=(),
                               missing=(), scanned=0, parsed=0, dry_run=False, written=True)


@pytest.fixture
def moved(monkeypatch) -> list:
    import mlgate.registry.mlflow_alias as alias

    calls: list = []
    monkeypatch.setattr(alias, "current_version", lambda *a, **k: "3")
    monkeypatch.setattr(alias, "move_alias",
                        lambda *a, **k: calls.append((a, k)) or {"moved": a[2]})
    return calls


def test_push_lands_and_moves_the_alias(tmp_path, monkeypatch, moved) -> None:
    landing = FakeLanding(tmp_path)
    monkeypatch.setattr(promote_module, "land", landing)
    said: list[str] = []
    cfg = config(images=(f"{IMG}:v1.5.0",),
                 registry=RegistrySpec("churn", "4", "champion", "sqlite:///m.db"))
    result = promote(cfg, said.append)
    assert said == ["landed"]
    assert landing.calls == [dict(target=cfg.target, sparse=(PROD,), options=cfg.options,
                                  provider=None, folder=PROD, tag=None)]
    assert moved == [(("churn", "champion", "4"),
                      dict(commit="c0ffee", config_repo="https://git.example.com/team/config.git",
                           tracking_uri="sqlite:///m.db"))]
    assert result.registry == {"moved": "4"}
    assert result.notes == ()
    assert result.promotion is not None
    assert result.promotion.registry == "churn@champion 3 -> 4"


def test_from_environment_checks_out_both_folders(tmp_path, monkeypatch) -> None:
    landing = FakeLanding(tmp_path)
    monkeypatch.setattr(promote_module, "land", landing)
    result = promote(config(images=(IMG,), from_environment="staging", from_path=STAGING))
    assert landing.calls[0]["sparse"] == (PROD, STAGING)
    assert landing.calls[0]["folder"] == PROD
    assert result.new == f"{IMG}:v1.4.0"


def test_a_request_waits_for_review_before_the_alias_moves(tmp_path, monkeypatch, moved) -> None:
    request = ChangeRequestResult("https://git.example.com/team/config/pull/7", 7, True)
    landing = FakeLanding(tmp_path, request=request)
    monkeypatch.setattr(promote_module, "land", landing)
    cfg = config(target=target("pull-request", "github", "tok"), images=(f"{IMG}:v1.5.0",),
                 registry=RegistrySpec("churn", "4", "champion"))
    result = promote(cfg)
    assert landing.calls[0]["provider"] is not None  # the forge's API is used
    assert moved == [] and result.registry is None
    assert result.request == request and result.pr_url == request.url
    assert result.notes == ("registry alias champion not moved: the change waits for review; "
                            "run promote in push mode (or after merge) to move it",)
    shown = present(result, cfg.target)
    assert shown.verdict == "request opened"
    assert shown.outputs["pr-url"] == "https://git.example.com/team/config/pull/7"
    assert ("pr-url", "https://git.example.com/team/config/pull/7") in shown.table.rows
    assert ("provider", "github (pull-request)") in shown.table.rows
    assert [s.title for s in shown.sections] == ["Changes", "Commit message", "Note"]
    assert shown.secrets == ("tok",)
    assert shown.result["request"]["number"] == 7  # the --json report
    assert "registry alias champion not moved" in render_summary(shown)


def test_nothing_changed_moves_no_alias_and_says_unchanged(tmp_path, monkeypatch, moved) -> None:
    monkeypatch.setattr(promote_module, "land", FakeLanding(tmp_path, changed=False))
    cfg = config(images=(f"{IMG}:v1.5.0",), registry=RegistrySpec("churn", "4", "champion"))
    result = promote(cfg)
    assert moved == [] and result.notes == () and result.registry is None
    assert not result.changed
    shown = present(result, cfg.target)
    assert shown.verdict == "unchanged"
    assert shown.outputs["changed"] == "false" and shown.outputs["commit"] == ""


def test_the_promotion_report_shows_what_changed_and_on_what_evidence(tmp_path,
                                                                      monkeypatch) -> None:
    monkeypatch.setattr(promote_module, "land", FakeLanding(tmp_path))
    ev = (Evidence("b.json", "ab" * 32, "benchmark", "passed", 0, "beats champion"),
          Evidence("s.json", "cd" * 32, "scan-image", "failed", 1, "1 critical"))
    cfg = config(images=(f"{IMG}:v1.5.0",), evidence=ev)
    result = promote(cfg)
    assert result == PromoteResult(
        app="churn", environment="production", provider="git", mode="push", base="main",
        changed=True, commit="c0ffee", pr_url=None, previous=f"{IMG}:v1.4.0",
        new=f"{IMG}:v1.5.0", attempts=2, changes=result.changes, promotion=result.promotion,
        request=None, registry=None, message="promote churn ...\n", notes=())
    assert len(result.changes) == 1
    shown = present(result, cfg.target)
    assert shown.title == f"mlgate promote: churn in production: {IMG}:v1.4.0 -> {IMG}:v1.5.0"
    assert shown.verdict == "promoted" and shown.exit_code == 0
    assert shown.outputs == {"changed": "true", "commit": "c0ffee", "pr-url": "",
                             "previous": f"{IMG}:v1.4.0", "new": f"{IMG}:v1.5.0",
                             "attempts": "2", "tag": "", "release-url": ""}
    assert shown.table.rows == (("changed", "true"), ("commit", "c0ffee"), ("pr-url", ""),
                                ("previous", f"{IMG}:v1.4.0"), ("new", f"{IMG}:v1.5.0"),
                                ("attempts", "2"), ("tag", ""), ("release-url", ""),
                                ("provider", "git (push)"), ("base", "main"))
    sections = {s.title: s.markdown for s in shown.sections}
    assert "| scan-image | ❌ failed | 1 | 1 critical |" in sections["Evidence"]
    assert "| benchmark | ✅ passed | 0 | beats champion |" in sections["Evidence"]
    assert sections["Changes"].splitlines()[2] == (
        f"| `{PROD}/kustomization.yaml` | 10 | `images[0].newTag` | `v1.4.0` | `v1.5.0` |")
    summary = render_summary(shown)
    assert "❌ failed" in summary and "✅ passed" in summary
    assert shown.secrets == ()


def test_a_values_only_result_reports_the_first_value(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(promote_module, "land", FakeLanding(tmp_path))
    result = promote(config(sets=("model-version.yaml:spec.predictor.model.runtime=sklearn",
                                  f"model-version.yaml:{URI}=s3://models/churn/4")))
    # the first value is new (no previous value): shown as empty, not as "None"
    assert (result.previous, result.new) == ("", "sklearn")
    result = promote(config(sets=(f"model-version.yaml:{URI}=s3://models/churn/4",)))
    assert (result.previous, result.new) == ("s3://models/churn/3", "s3://models/churn/4")
    assert present(result, target()).title == (
        "mlgate promote: churn in production: s3://models/churn/3 -> s3://models/churn/4")


def test_a_result_without_a_recorded_promotion_reports_nothing_promoted() -> None:
    landed = Landed(False, None, "base0", 1, None, None)
    result = build_result(config(images=(f"{IMG}:v1",)), landed, None, [])
    assert (result.previous, result.new, result.changes, result.pr_url) == ("", "", (), None)
    assert present(result, target()).title == "mlgate promote: churn in production: none -> none"
    empty = Promotion("churn", "production", {}, {})
    result = build_result(config(), Landed(False, None, "b", 1, empty, None), None, [])
    assert (result.previous, result.new) == ("", "")
    first_new = Promotion("churn", "production", {}, {IMG: f"{IMG}:v2"})
    result = build_result(config(), Landed(True, "c", "b", 1, first_new, None), None, [])
    assert (result.previous, result.new) == ("", f"{IMG}:v2")


# --- --from-environment with nothing named: what staging's last promotion set ----------------


def recorded(sha: str = "5" * 40, images=(), sets=(), evidence=()):
    from mlgate.promote.history import Recorded

    return Recorded(sha=sha, subject="promote", images=tuple(images), sets=tuple(sets),
                    registry=None, rollback_of=(), evidence=tuple(evidence))


def test_from_last_promotion_names_what_staging_set_and_links_it() -> None:
    from mlgate.promote.promote import from_last_promotion

    cfg = config(from_environment="staging", from_path=STAGING)
    last = recorded(
        images=[(f"{IMG}:v1.4.0", f"{IMG}:v1.5.0@{DIGEST}"),
                (f"{IMG}:v1.3.0", f"{IMG}:v1.5.0, {IMG}:v1.5.1"),
                ("none", "quay.io/team/feature:v2")],
        sets=[(f"{STAGING}/model-version.yaml:{URI}=s3://m/3",
               f"{STAGING}/model-version.yaml:{URI}=s3://m/4"),
              (f"{STAGING}/sub/x.yaml:a.b=1", f"{STAGING}/sub/x.yaml:a[\"b.c\"]=2")],
        evidence=[f"{'ab' * 32} benchmark.json", f"{'cd' * 32} scan.json"])
    older = recorded(sha="6" * 40, images=[(f"{IMG}:v1", "quay.io/x/y:v9")])
    out = from_last_promotion(cfg, [last, older])
    assert out == dataclasses.replace(
        cfg, images=(IMG, "quay.io/team/feature"),
        sets=(f"model-version.yaml:{URI}", 'sub/x.yaml:a["b.c"]'),
        from_commit="5" * 40, from_evidence=(f"{'ab' * 32} benchmark.json",
                                            f"{'cd' * 32} scan.json"))


def test_from_last_promotion_refuses_an_empty_record() -> None:
    from mlgate.promote.promote import from_last_promotion

    cfg = config(from_environment="staging", from_path=STAGING)
    with pytest.raises(BadInput) as exc:
        from_last_promotion(cfg, [])
    assert str(exc.value) == ("--from-environment staging: no mlgate promotion of churn in "
                              "staging on record to copy; give --image or --set")
    with pytest.raises(BadInput) as exc:
        from_last_promotion(cfg, [recorded(), recorded(sha="6" * 40, images=[("a", f"{IMG}:v")])])
    assert str(exc.value) == ("--from-environment staging: staging's promotion 555555555555 "
                              "recorded no image or value to copy; give --image or --set")


def test_from_last_promotion_refuses_a_recorded_file_outside_the_source() -> None:
    from mlgate.promote.promote import from_last_promotion

    cfg = config(from_environment="staging", from_path=STAGING)
    bad = f"{PROD}/model-version.yaml:{URI}=x"
    with pytest.raises(BadInput) as exc:
        from_last_promotion(cfg, [recorded(sets=[(bad, bad)])])
    assert str(exc.value).startswith(f"Mlgate-Set-New {bad!r} of staging's promotion "
                                     "555555555555: must be inside the environment folder")
    with pytest.raises(BadInput) as exc:
        from_last_promotion(cfg, [recorded(images=[("none", f"{IMG}:v1;rm")])])
    assert "Mlgate-New of staging's promotion 555555555555" in str(exc.value)


def test_the_plan_carries_the_source_commit_and_evidence(checkout) -> None:
    cfg = config(images=(IMG,), from_environment="staging", from_path=STAGING,
                 from_commit="5" * 40, from_evidence=(f"{'ab' * 32} b.json",))
    p = make_planner(cfg)(checkout).promotion
    assert (p.from_environment, p.from_commit, p.from_evidence, p.folder) == (
        "staging", "5" * 40, (f"{'ab' * 32} b.json",), PROD)


def test_promote_reads_staging_history_only_when_nothing_is_named(tmp_path, monkeypatch) -> None:
    landing = FakeLanding(tmp_path)
    monkeypatch.setattr(promote_module, "land", landing)
    asked: list = []
    last = recorded(images=[(f"{IMG}:v1.4.0", f"{IMG}:v1.4.0")],
                    evidence=[f"{'ab' * 32} b.json"])
    monkeypatch.setattr(promote_module, "read_history",
                        lambda *a: asked.append(a) or [last])
    cfg = config(from_environment="staging", from_path=STAGING)
    result = promote(cfg)
    assert asked == [(cfg.target, "churn", "staging")]
    assert result.promotion is not None
    assert result.promotion.from_commit == "5" * 40
    assert result.promotion.new == {IMG: f"{IMG}:v1.4.0"}
    assert landing.calls[0]["sparse"] == (PROD, STAGING)
    # an image or a value named: staging's history is not read
    for named in (dict(images=(IMG,)), dict(sets=(f"model-version.yaml:{URI}",))):
        promote(config(from_environment="staging", from_path=STAGING, **named))
    promote(config(images=(f"{IMG}:v1.5.0",)))
    assert len(asked) == 1
