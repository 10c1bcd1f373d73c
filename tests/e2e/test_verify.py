"""The closed loop as a user's CI runs it, once per runner: promote, then wait-sync with the
promotion's commit, then verify against a real Prometheus, which on failure rolls back in git.

- The actions and templates one by one: `./actions/promote`, `./actions/wait-sync` and
  `./actions/verify` as three act jobs, each needing the ones before it (later ones read the
  commit as `needs.<job>.outputs.commit`), and gitlab-templates/promote.yml, wait-sync.yml and
  verify.yml included locally, one stage each, run by gitlab-ci-local (later ones read the
  commit as the promotion job's dotenv variable, $MLGATE_PROMOTE_COMMIT).
- The pipeline: an mlgate.yaml whose environment has `wait-sync:` and `verify:` sections, run by
  the root action (`uses: ./`, act) and by gitlab-templates/pipeline.yml (gitlab-ci-local,
  `--shell-isolation`: its <prefix>wait-sync and <prefix>verify jobs get the promotion's result
  only as artifacts of the jobs they need).

What runs around them: the config repo on the loopback git server; Argo CD's API stand-in
(tests/standins/argocd_api.py) with a controller thread that reports each new head of the config
repo's main synced and healthy a moment after it moves (tests/standins/argocd_controller.py);
the session's real Prometheus scraping an exporter whose traffic each test drives, under an
app/namespace of its own. Healthy traffic: every job passes and verify says passed. Errors (20 %
of requests answered 500): verify's first measurement fails, it lands a rollback commit with
Mlgate-Rollback-Reason and Mlgate-Rollback-Of trailers, and its job fails with exit 1.

Tokens are where a user keeps them, never inputs: the git token and ARGOCD_AUTH_TOKEN are
repository secrets the workflow maps into the steps' `env:` (act's secret file) / masked CI/CD
variables (gitlab-ci-local's per-user variables file); ARGOCD_SERVER and the git username are
plain variables. Neither token may show up in a log, an output or a kept file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from harness import (
    CONFIG,
    CHECKOUT_PARTS,
    CHECKOUT_STEP,
    EXAMPLE_APP,
    EXAMPLE_IMAGE,
    EXAMPLE_PATH,
    GITLAB_INSTALL,
    CiRun,
    Job,
    Runner,
    assert_secret_absent,
    commit_trailers,
    github_collect_step,
    secret_forms,
)
from standins.argocd_api import TOKEN as ARGOCD_TOKEN
from standins.argocd_api import argocd_api  # noqa: F401  (the fixture)
from standins.argocd_controller import Controller
from support.prometheus import Stack, p95

from mlgate.interface import OUTPUTS

pytestmark = pytest.mark.e2e

TITLE = "e2e verify"
ARGOCD_APP = "churn-staging"
NEW = f"{EXAMPLE_IMAGE}:v1.5.0"
OLD = f"{EXAMPLE_IMAGE}:v1.4.0"
LATENCY = 0.05        # seconds per request: p95-latency reads p95(LATENCY), well under 500 ms
ACCURACY = 0.93       # live, against 0.95 in the evidence: a drop of 2 %, under the 5 % allowed
BAD_ERRORS = 0.2      # the share of requests answered 500 in the failing scenario
CHECKS = ("error-rate:max=1%", "p95-latency:max=500ms", "accuracy:max-drop=5%")
# One measurement a second, each over the last 3 s of scrapes (every 200 ms): room for a slow
# scrape on a busy machine, where a 1 s window may hold a single sample (no rate, inconclusive).
INTERVAL, WINDOW, COUNT = "1s", "3s", 3
# The benchmark's JSON that promoted the model: accuracy:max-drop's baseline.
EVIDENCE = json.dumps({
    "command": "benchmark",
    "exit_code": 0,
    "result": {"candidate": {"name": "churn", "version": "4"},
               "metrics": [{"name": "accuracy", "champion": 0.91, "candidate": 0.95}]},
}, indent=2)
# The model repository needs the root action.yml too, for `uses: ./`.
PARTS = (*CHECKOUT_PARTS, "action.yml")


@pytest.fixture
def controller(argocd_api, git_server, config_url) -> Iterator[Controller]:  # noqa: F811
    """Argo CD following the config repo's main on the git server: a new head is applied
    only after a client (wait-sync) saw it under way."""
    with Controller(argocd_api, lambda: git_server.head(CONFIG), app=ARGOCD_APP,
                    after_read=True) as running:
        yield running


def serve(stack: Stack, namespace: str, error_ratio: float) -> None:
    """The live model's traffic from now on, and its accuracy, once Prometheus has a rate."""
    stack.exporter.traffic(EXAMPLE_APP, namespace, error_ratio=error_ratio, latency=LATENCY,
                           rps=100)
    stack.exporter.accuracy(EXAMPLE_APP, namespace, ACCURACY)
    stack.prometheus.wait_for(
        f'sum(rate(http_requests_total{{app="{EXAMPLE_APP}",namespace="{namespace}"}}[1s]))',
        lambda vs: bool(vs) and vs[0] > 0, timeout=20)


def secrets_for(git_server) -> dict[str, str]:
    return {"MLGATE_GIT_TOKEN": git_server.token("writer"), "ARGOCD_AUTH_TOKEN": ARGOCD_TOKEN}


def assert_no_secret(run: CiRun, git_server, *trees: Path) -> None:
    for forms in (secret_forms("writer", git_server.token("writer")), (ARGOCD_TOKEN,)):
        assert_secret_absent(forms, run, *trees)


def rollback_of(git_server, seed: str) -> tuple[str, str]:
    """The promotion and its rollback: the only two commits since `seed`, in order."""
    history = git_server.git(CONFIG, "rev-list", "--first-parent", f"{seed}..main").split()
    assert len(history) == 2, history
    back, promoted = history
    trailers = commit_trailers(git_server, CONFIG, back)
    assert trailers["Mlgate-Rollback-Of"] == [promoted]
    [reason] = trailers["Mlgate-Rollback-Reason"]
    assert reason.startswith(f"error-rate {BAD_ERRORS} > 0.01 ("), reason
    assert trailers["Mlgate-Previous"] == [NEW] and trailers["Mlgate-New"] == [OLD]
    # staging runs what it ran before the promotion
    # the manifests are as seeded; what remains is the two commits' evidence folders
    assert all(p.startswith(".mlgate/evidence/") for p in
               git_server.git(CONFIG, "diff", "--name-only", seed, back).split())
    return promoted, back


# --- the actions / templates one by one -----------------------------------------------------


def loop_jobs(runner: Runner, config_url: str, argocd: str, prometheus: str, namespace: str
              ) -> tuple[Job, Job, Job]:
    """promote (staging to v1.5.0), wait-sync and verify of its commit; act's jobs also keep
    their JSON results (the templates keep theirs as artifacts by default)."""
    act = runner.name == "act"
    promote = Job(
        "promote-staging", "promote", "promote", OUTPUTS["promote"],
        {"repo": config_url, "app": EXAMPLE_APP, "environment": "staging",
         "path": EXAMPLE_PATH, "image": NEW},
        env={"MLGATE_GIT_USERNAME": "writer"}, secrets=("MLGATE_GIT_TOKEN",))
    wait = Job(
        "wait-sync-staging", "wait-sync", "wait-sync", OUTPUTS["wait-sync"],
        {"revision": runner.ref(promote, "commit"), "argocd-app": ARGOCD_APP,
         "interval": "0.5s", "timeout": "60s"},
        env={"ARGOCD_SERVER": argocd}, secrets=("ARGOCD_AUTH_TOKEN",))
    verify = Job(
        "verify-staging", "verify", "verify", OUTPUTS["verify"],
        {"prometheus": prometheus, "check": "\n".join(CHECKS) + "\n",
         "evidence": "evidence/benchmark.json", "interval": INTERVAL, "window": WINDOW,
         "count": f'"{COUNT}"',
         "namespace": namespace, "app": EXAMPLE_APP, "environment": "staging",
         "path": EXAMPLE_PATH, "repo": config_url, "revision": runner.ref(promote, "commit"),
         **({"json": "mlgate-verify.json"} if act else {})},
        env={"MLGATE_GIT_USERNAME": "writer"}, secrets=("MLGATE_GIT_TOKEN",))
    return promote, wait, verify


def run_loop(request: pytest.FixtureRequest, runner: Runner, make_repo, jobs: tuple[Job, ...],
             git_server) -> CiRun:
    if runner.name == "act":  # each action installs its own extras: have them ready
        request.getfixturevalue("mlgate_landing_bin")
        request.getfixturevalue("mlgate_wait_sync_bin")
    verify_bin = request.getfixturevalue("mlgate_verify_bin")  # its extras cover promote's
    repo = make_repo({**runner.files(TITLE, jobs, sequential=True),
                      "evidence/benchmark.json": EVIDENCE})
    return runner.run(repo, secrets=secrets_for(git_server), bin_dir=verify_bin.parent)


def test_a_healthy_model_is_promoted_synced_and_verified(
    request, make_repo, runner, git_server, config_url, argocd_api,  # noqa: F811
    controller, prometheus_stack
):
    seed = git_server.head(CONFIG)
    namespace = f"e2e-verify-{runner.name}-ok"
    serve(prometheus_stack, namespace, 0.0)
    jobs = loop_jobs(runner, config_url, argocd_api.url, prometheus_stack.url, namespace)
    promote, wait, verify = jobs

    run = run_loop(request, runner, make_repo, jobs, git_server).check()

    [promoted] = git_server.git(CONFIG, "rev-list", f"{seed}..main").split()
    out = runner.outputs(run, promote)
    assert out["changed"] == "true" and out["commit"] == promoted, out
    out = runner.outputs(run, wait)
    assert out["synced"] == "true" and out["healthy"] == "true", out
    assert out["revision"] == promoted, out
    assert float(out["seconds"]) > 0  # it saw the sync under way, and waited
    assert controller.applied == [promoted]  # what Argo CD applied: the promotion, no rollback
    out = runner.outputs(run, verify)
    assert out["passed"] == "true" and out["phase"] == "Successful", out
    assert out["rolled-back"] == "false" and out["rollback-commit"] == "", out
    assert out["failed-checks"] == ""

    # What Prometheus answered, in the JSON result: three measurements of each check, each
    # the value the exporter's traffic gives.
    report = json.loads((runner.kept(run, verify) / "mlgate-verify.json").read_text())
    assert report["exit_code"] == 0
    checks = {c["name"]: c for c in report["result"]["checks"]}
    assert list(checks) == ["error-rate", "p95-latency", "accuracy"]
    expected = {"error-rate": 0.0, "p95-latency": p95(LATENCY), "accuracy": ACCURACY}
    for name, check in checks.items():
        assert check["phase"] == "Successful", check
        assert [m["phase"] for m in check["measurements"]] == ["Successful"] * COUNT, check
        for m in check["measurements"]:
            assert m["value"] == pytest.approx(expected[name], abs=1e-6), (name, m)
        assert f'namespace="{namespace}"' in check["query"]
    assert checks["accuracy"]["baseline"] == 0.95  # from the evidence
    assert "error-rate" in runner.summary(run, verify)
    assert git_server.head(CONFIG) == promoted  # nothing rolled back
    assert_no_secret(run, git_server, runner.kept(run))


def test_errors_fail_the_verification_which_rolls_back_in_git(
    request, make_repo, runner, git_server, config_url, argocd_api,  # noqa: F811
    controller, prometheus_stack
):
    seed = git_server.head(CONFIG)
    namespace = f"e2e-verify-{runner.name}-errors"
    serve(prometheus_stack, namespace, BAD_ERRORS)
    jobs = loop_jobs(runner, config_url, argocd_api.url, prometheus_stack.url, namespace)
    promote, wait, verify = jobs

    run = run_loop(request, runner, make_repo, jobs, git_server)

    assert run.returncode != 0, run.log[-6000:]
    assert runner.exit_code(run, promote) == 0
    assert runner.exit_code(run, wait) == 0
    assert runner.exit_code(run, verify) == 1, run.log[-6000:]  # the gate said no
    promoted, back = rollback_of(git_server, seed)
    assert runner.outputs(run, promote)["commit"] == promoted
    # The verify job's result (kept also when it fails): the first measurement of error-rate
    # failed, which ended the run (failure-limit 0) and rolled back.
    report = json.loads((runner.kept(run, verify) / "mlgate-verify.json").read_text())
    assert report["exit_code"] == 1
    out = report["outputs"]
    assert out["passed"] == "false" and out["phase"] == "Failed", out
    assert out["failed-checks"] == "error-rate"
    assert out["rolled-back"] == "true" and out["rollback-commit"] == back, out
    assert out["incident-url"] == ""  # no forge token at hand: no incident issue
    if runner.name == "act":  # read by the `if: always()` step after the failed one
        assert runner.outputs(run, verify) == out
    assert_no_secret(run, git_server, runner.kept(run))


# --- the pipeline: mlgate.yaml's wait-sync: and verify: sections ------------------------------

PIPELINE_OUTPUTS = OUTPUTS["pipeline"]
TOKEN_ENV = (
    "        env:\n"
    "          MLGATE_GIT_TOKEN: ${{ secrets.MLGATE_GIT_TOKEN }}\n"
    "          MLGATE_GIT_USERNAME: writer\n"
    "          ARGOCD_AUTH_TOKEN: ${{ secrets.ARGOCD_AUTH_TOKEN }}\n"
    "          ARGOCD_SERVER: ARGOCD_URL\n"
)


def policy(config_url: str, prometheus: str, namespace: str) -> str:
    """mlgate.yaml: staging lists no gates (test_pipeline.py runs them); after its promotion,
    the wait for Argo CD and the verification, which rolls back where the promotion went."""
    return yaml.safe_dump({
        "version": 1,
        "app": EXAMPLE_APP,
        "model": {"name": "churn", "version": "4"},
        "image": NEW,
        "promote": {"repo": config_url, "path": EXAMPLE_PATH,
                    "author-name": "mlgate ci", "author-email": "ci@mlgate.invalid"},
        "environments": [{
            "name": "staging",
            "gates": [],
            "wait-sync": {"argocd-app": ARGOCD_APP, "interval": "0.5s", "timeout": "60s"},
            # no benchmark gate here, so no evidence: accuracy:max-drop has no baseline
            "verify": {"prometheus": prometheus, "namespace": namespace,
                       "check": list(CHECKS[:2]), "interval": INTERVAL, "window": WINDOW,
                       "count": COUNT},
        }],
    }, sort_keys=False)


def pipeline_files(runner_name: str, argocd: str) -> dict[str, str]:
    """Act: the root action, one step for staging; gitlab-ci-local: pipeline.yml for staging
    (its gate jobs skip, then promote, wait-sync and verify, each needing the one before)."""
    if runner_name == "act":
        return {".github/workflows/pipeline.yml": (
            f"name: {TITLE}\n"
            "on: push\n"
            "permissions:\n"
            "  contents: read\n"
            "jobs:\n"
            "  pipeline:\n"
            "    runs-on: ubuntu-latest\n"
            "    steps:\n"
            f"{CHECKOUT_STEP}"
            "      - id: staging\n"
            "        uses: ./\n"
            + TOKEN_ENV.replace("ARGOCD_URL", argocd)
            + "        with:\n"
            "          environment: staging\n"
            "          json: mlgate-pipeline.json\n"
            + github_collect_step("staging", PIPELINE_OUTPUTS, keep="staging",
                                  prefix="staging-"))}
    return {".gitlab-ci.yml": (
        "stages: [test, deploy]\n"
        "variables:\n"
        "  MLGATE_GIT_USERNAME: writer\n"
        f"  ARGOCD_SERVER: {argocd}\n"
        "include:\n"
        "  - local: gitlab-templates/pipeline.yml\n"
        "    inputs:\n"
        "      environment: staging\n"
        f"      install: {GITLAB_INSTALL}\n")}


def pipeline_results(runner: Runner, run: CiRun) -> dict[str, dict]:
    """The pipeline's JSON results, by the job that wrote them (act: the one step)."""
    if runner.name == "act":
        return {"staging": json.loads(
            (runner.kept(run) / "staging" / "mlgate-pipeline.json").read_text())}
    artifacts = runner.kept(run)
    found = {}
    for job, name in (("mlgate-promote", "mlgate-pipeline.json"),
                      ("mlgate-wait-sync", "mlgate-pipeline-wait-sync.json"),
                      ("mlgate-verify", "mlgate-pipeline-verify.json")):
        path = artifacts / job / name
        if path.is_file():
            found[job] = json.loads(path.read_text())
    return found


def steps_of(result: dict) -> dict[str, dict]:
    return {s["step"]: s for s in result["result"]["steps"]}


@pytest.mark.parametrize("healthy", [True, False], ids=["healthy", "errors"])
def test_the_pipeline_waits_for_the_sync_then_verifies(
    healthy, make_repo, runner, mlgate_pipeline_bin, git_server, config_url,
    argocd_api, controller, prometheus_stack  # noqa: F811
):
    act = runner.name == "act"
    seed = git_server.head(CONFIG)
    namespace = f"e2e-pipeline-{runner.name}-{'ok' if healthy else 'errors'}"
    serve(prometheus_stack, namespace, 0.0 if healthy else BAD_ERRORS)
    repo = make_repo({**pipeline_files(runner.name, argocd_api.url),
                      "mlgate.yaml": policy(config_url, prometheus_stack.url, namespace)},
                     checkout_parts=PARTS)

    run = runner.run(repo, secrets=secrets_for(git_server), bin_dir=mlgate_pipeline_bin.parent,
                     shell_isolation=True, timeout=300 if act else 600)

    results = pipeline_results(runner, run)
    if healthy:
        run.check()
        [promoted] = git_server.git(CONFIG, "rev-list", f"{seed}..main").split()
        assert controller.applied == [promoted]
    else:
        assert run.returncode != 0, run.log[-6000:]
        promoted, back = rollback_of(git_server, seed)
    if act:
        [result] = results.values()
        assert result["exit_code"] == (0 if healthy else 1), result["result"]
        got = steps_of(result)
        expected = ["promote", "wait-sync", "verify", "rollback"]
        assert list(got) == expected + ([] if healthy else ["rollback-wait-sync"])
        out = {name: run.outputs[f"staging-{name}"] for name in PIPELINE_OUTPUTS}
    else:
        # each job's JSON lists the steps up to its own; the promotion's comes from its JSON
        assert list(steps_of(results["mlgate-promote"])) == ["promote"]
        assert list(steps_of(results["mlgate-wait-sync"])) == ["promote", "wait-sync"]
        got = steps_of(results["mlgate-verify"])
        expected = ["promote", "wait-sync", "verify", "rollback"]
        assert list(got) == expected + ([] if healthy else ["rollback-wait-sync"])
        for job in ("mlgate-validate", "mlgate-benchmark", "mlgate-scan", "mlgate-promote",
                    "mlgate-wait-sync"):
            assert re.search(rf"^ PASS  {job}$", run.log, re.MULTILINE), run.log[-6000:]
        verdict = " PASS  mlgate-verify" if healthy else "mlgate-verify finished in .* FAIL 1"
        assert re.search(rf"^{verdict}\s*$", run.log, re.MULTILINE), run.log[-6000:]
        assert results["mlgate-verify"]["exit_code"] == (0 if healthy else 1)
        out = {**results["mlgate-wait-sync"]["outputs"],
               **{k: v for k, v in results["mlgate-verify"]["outputs"].items() if v}}
    assert got["promote"]["outputs"]["commit"] == promoted
    assert got["wait-sync"]["outputs"]["revision"] == promoted
    assert float(got["wait-sync"]["outputs"]["seconds"]) > 0  # it saw the sync under way
    assert out["promote-commit"] == promoted
    assert out["wait-sync-synced"] == "true" and out["wait-sync-healthy"] == "true", out
    if healthy:
        assert got["verify"]["exit_code"] == 0 and "verification passed" in \
            got["rollback"]["verdict"]
        assert out["passed"] == "true" and out["verify-passed"] == "true", out
        assert out["verify-phase"] == "Successful" and out["verify-rolled-back"] == "false"
        assert git_server.head(CONFIG) == promoted
    else:
        assert got["verify"]["exit_code"] == 1
        assert got["rollback"]["outputs"]["commit"] == back
        # the rollback's own wait: Argo CD applied it too
        assert got["rollback-wait-sync"]["exit_code"] == 0
        assert got["rollback-wait-sync"]["outputs"]["revision"] == back
        assert controller.applied == [promoted, back]
        assert out["passed"] == "false" and out["verify-passed"] == "false", out
        assert out["verify-phase"] == "Failed" and out["verify-rolled-back"] == "true"
        assert out["verify-rollback-commit"] == back
    assert_no_secret(run, git_server, runner.kept(run))
