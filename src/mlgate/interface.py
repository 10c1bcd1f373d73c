"""mlgate's interface facts: the commands, their outputs, and how inputs travel as variables.

The bottom floor, so every layer that needs these facts reads them from here: the CLI (the top),
the pipeline and its mlgate.yaml schema, the emitters, and the test that keeps every action.yml
and GitLab template equal to the CLI. A command's *inputs* are its stage's click parameters
(mlgate.stages); its *outputs* are declared below, because the pipeline's outputs are built
from every stage's and the presenters fill them in.
"""

from __future__ import annotations

from typing import Protocol

# The stages, in the order `mlgate --help` and the docs list them; each is one module in
# mlgate.stages (registered in mlgate.stages.registry).
STAGES: tuple[str, ...] = ("rewrite", "promote", "rollback", "sync-aliases", "scan", "validate",
                           "benchmark", "comply", "wait-sync", "verify", "canary", "render-analysis",
                           "history", "status", "audit", "metrics")
# The gates a pipeline environment may list, in the order they run: comply last, since it
# judges the promotion's manifests with the other gates' results as its release input.
GATES: tuple[str, ...] = ("validate", "benchmark", "scan", "comply")
# mlgate.yaml's key for a gate's section, where it is not the gate's name
SECTION_KEYS: dict[str, str] = {"comply": "compliance"}


def section_key(gate: str) -> str:
    return SECTION_KEYS.get(gate, gate)
# Every subcommand: the stages, the two that compose them, and the analysis server.
COMMANDS: tuple[str, ...] = (*STAGES, "pipeline", "demo", "serve-analysis")
# Commands that are not actions or templates (the drift test leaves them out): the demo;
# render-analysis, a generator whose output a person commits to the config repository; and
# serve-analysis, a server that runs in a container until stopped, not a CI step.
LOCAL_ONLY = frozenset({"demo", "render-analysis", "serve-analysis"})

ENV_PREFIX = "MLGATE_IN_"
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


class Named(Protocol):
    """What input_name needs of a click parameter (kept structural: no click import here)."""

    name: str | None
    opts: list[str]


def env_name(input_: str) -> str:
    """The environment variable an action or template uses to pass one CLI input."""
    return ENV_PREFIX + input_.upper().replace("-", "_")


def input_name(param: Named) -> str:
    """The action/template input (and mlgate.yaml key) for a CLI parameter: the long option
    without dashes, or an argument's name."""
    options = [o for o in param.opts if o.startswith("-")]
    if options:
        return max(options, key=len).lstrip("-")
    assert param.name is not None
    return param.name.replace("_", "-")


_PROMOTE = {
    "changed": "true when a commit or request was made, false when the environment already "
               "had these values.",
    "commit": "The commit sha on the config repo (the request branch's head in pull-request "
              "mode); empty when unchanged.",
    "pr-url": "URL of the pull/merge request (pull-request mode), else empty.",
    "previous": "The first image's reference (or first --set value) before the promotion.",
    "new": "The first image's reference (or first --set value) after the promotion.",
    "attempts": "How many tries it took (more than 1 when another promotion landed first).",
}

_STAGE_OUTPUTS: dict[str, dict[str, str]] = {
    "rewrite": {
        "changed": "true when at least one value was changed (or would be, with --dry-run), "
                   "else false.",
        "files": "JSON array of the files changed, relative to --root.",
        "changes": "JSON array of {file, line, path, kind, old, new}, one per value changed.",
    },
    "promote": {
        **_PROMOTE,
        "tag": "The annotated tag made on the commit with --tag (empty when none).",
        "release-url": "URL of the release made with --tag --release (empty when none).",
    },
    "rollback": {
        **_PROMOTE,
        "previous": "The first image's reference (or value) before the rollback.",
        "new": "The first image's reference (or value) the rollback restored.",
    },
    "sync-aliases": {
        "changed": "true when at least one alias was moved, else false.",
        "moved": "The aliases moved, one 'model@alias=version' per line; empty when none.",
        "aliases": "How many aliases the config repo's records name (moved or not).",
    },
    "scan": {
        "passed": "true when no finding blocks the promotion, else false.",
        "critical": "Number of CRITICAL findings (ignored ones not counted).",
        "high": "Number of HIGH findings.",
        "medium": "Number of MEDIUM findings.",
        "low": "Number of LOW findings.",
        "unknown": "Number of findings of UNKNOWN severity.",
        "max-cvss": "Highest CVSS v3 base score among the findings not ignored, or empty.",
        "sarif": "Path of the SARIF report, when --sarif was given.",
        "gitlab-report": "Path of the GitLab container-scanning report, when --gitlab-report "
                         "was given.",
        "junit": "Path of the JUnit report, when --junit was given.",
    },
    "validate": {
        "passed": "true when no failed expectation or drift finding is at or above --fail-on.",
        "evaluated": "Number of expectations evaluated.",
        "failed": "Number of expectations that failed, whatever their severity.",
        "success-percent": "Share of expectations met, in percent (e.g. 95.00).",
        "drifted": "Number of columns whose distribution drifted, when --reference was given.",
        "junit": "Path of the JUnit report, when --junit was given.",
        "data-docs": "Path of the Data Docs index.html, when --data-docs was given.",
    },
    "benchmark": {
        "passed": "true when every metric, slice and latency rule holds, else false.",
        "champion-missing": "true when there was no champion to compare against (judged on "
                            "absolute thresholds alone).",
        "metric": "Name of the first gated metric (the one the next outputs describe).",
        "champion": "That metric's value for the champion (empty without a champion).",
        "candidate": "That metric's value for the candidate.",
        "delta": "candidate - champion for that metric.",
        "ci-low": "Lower end of the bootstrap confidence interval of the delta.",
        "ci-high": "Upper end of the bootstrap confidence interval of the delta.",
        "p-value": "p-value of McNemar's exact test (classifiers) or Wilcoxon's signed-rank "
                   "test (losses) for that metric.",
        "metrics": "Every metric as compact JSON: {name: {champion, candidate, delta, low, "
                   "high, p_value, passed}}.",
        "report": "Path of the Markdown report, when --report was given.",
        "html-report": "Path of the HTML report, when --html-report was given.",
        "metrics-file": "Path of the OpenMetrics file for GitLab, when --metrics-file was "
                        "given.",
    },
    "wait-sync": {
        "synced": "true when the controller applied --revision (or a later commit containing "
                  "it), else false.",
        "healthy": "true when it and every --workload were healthy before the timeout, else "
                   "false.",
        "revision": "The revision the controller reported last (e.g. main@sha1:<sha>).",
        "seconds": "How long the wait took.",
        "message": "Why the wait ended: the resource, its condition and the controller's own "
                   "message.",
    },
    "verify": {
        "passed": "true when every check was Successful, else false.",
        "phase": "The analysis's phase: Successful, Failed, Inconclusive or Error.",
        "failed-checks": "The checks that did not pass, comma-separated.",
        "message": "The first failing check's reason (e.g. 'error-rate 0.034 > 0.01 (3 of 5 "
                   "measurements)'), or how many checks passed.",
        "rolled-back": "true when a failure rolled the promotion back, else false.",
        "rollback-commit": "The rollback's commit (empty when none).",
        "retrain-url": "The training run a drift failure started (empty when none).",
        "incident-url": "The incident issue opened (empty when none).",
        "report": "Path of the Markdown report, when --report was given.",
        "junit": "Path of the JUnit report, when --junit was given.",
        "metrics-file": "Path of the GitLab metrics report, when --metrics-file was given.",
    },
    "canary": {
        "outcome": "How the canary stands: completed (100 % and judged), open (left at a step "
                   "for --resume or --abort) or rolled-back.",
        "canary-id": "The canary's id (Mlgate-Canary-Id in its commits).",
        "step": "The last step this run committed or judged, as STEP/TOTAL.",
        "weight": "That step's traffic share in percent.",
        "commit": "That step's commit on the config repo.",
        "rolled-back": "true when a failed check or --abort rolled the canary back, else "
                       "false.",
        "rollback-commit": "The rollback's commit (empty when none).",
        "message": "How the run ended, with the failed check and its step when it rolled "
                   "back.",
    },
    "history": {
        "records": "How many promotions, rollbacks and canary steps were listed.",
        "promotions": "How many of them were promotions (not canary steps).",
        "rollbacks": "How many were rollbacks.",
        "canary-steps": "How many were canary steps (aborts included).",
        "latest": "The newest listed commit on the config repo; empty when none.",
    },
    "status": {
        "rows": "How many app and environment pairs mlgate records name.",
        "rolled-back": "The app/environment pairs whose newest record is a rollback, one per "
                       "line.",
        "open-canaries": "The app/environment pairs with a canary left open, one per line.",
    },
    "audit": {
        "verdict": "passed when every hash and the signature check out, else failed.",
        "problems": "How many checks failed (missing, altered, unsigned or a bad signature).",
        "app": "The app the commit promoted; empty for a commit mlgate did not make.",
        "environment": "Its environment; empty for a commit mlgate did not make.",
        "signature": "verified (keyid), unsigned, not checked or invalid.",
    },
    "comply": {
        "passed": "true when no deny or violation rule fired and every document rule was met.",
        "deny": "How many deny and violation messages the policies returned.",
        "warn": "How many warn messages (reported, never failing).",
        "documents-failed": "How many document rules were not met.",
        "policies-sha256": "One sha256 over every policy file (path and content).",
        "junit": "The JUnit report written (--junit), else empty.",
    },
    "metrics": {
        "deployments": "Deployments in the window, every environment (a canary counts once).",
        "production-deployments": "Of them, deployments to the production environment.",
        "lead-time-median": "Median lead time for changes in seconds (model commit to "
                            "production commit); empty when none was measured.",
        "change-failure-rate": "Failed production deployments / production deployments "
                               "(0 to 1); empty without deployments.",
        "time-to-restore-median": "Median seconds from a failed change to the commit that "
                                  "restored service; empty without failures.",
        "freshness-average": "Average age in seconds of the models production runs; empty "
                             "when none.",
        "automation-rate": "Commits made by mlgate / all commits that changed the environment "
                           "folders (0 to 1); empty when none did.",
    },
    "render-analysis": {
        "output": "The file written (--output); empty when the manifests went to standard "
                  "output.",
        "documents": "How many manifests were written.",
        "measured": "The checks the controller measures from Prometheus itself, "
                    "comma-separated.",
        "served": "The checks it asks mlgate serve-analysis about, comma-separated.",
    },
}

# The steps a pipeline reports outputs for, each prefixed by its name.
PIPELINE_STEPS: tuple[str, ...] = (*GATES, "promote", "canary", "wait-sync", "verify")


def _pipeline_outputs() -> dict[str, str]:
    """The pipeline's own outputs plus every gate's and the promotion's (or the canary's in
    its place), prefixed by step."""
    out = {
        "passed": "true when every gate passed, the promotion (if run) landed, and the live "
                  "model synced and verified (where configured), else false.",
        "environment": "The environment this run was for.",
        "promoted": "true when the promotion ran and landed (or changed nothing), with "
                    "canary: when the canary completed at 100 %, else false.",
        "model-version": "The model version promoted (empty when unknown).",
        "reports-dir": "Directory holding each step's JSON result (<step>.json).",
    }
    # most important first: a GitLab dotenv report keeps 20 variables
    first = ["validate-passed", "benchmark-passed", "scan-passed", "comply-passed",
             "promote-changed",
             "promote-commit", "promote-new", "promote-previous", "promote-pr-url",
             "wait-sync-healthy", "verify-passed", "verify-phase", "verify-rolled-back",
             "canary-outcome", "canary-rolled-back"]
    rest = {f"{step}-{name}": f"{step}: {text}"
            for step in PIPELINE_STEPS for name, text in _STAGE_OUTPUTS[step].items()}
    out.update({k: rest[k] for k in first})
    out.update({k: v for k, v in rest.items() if k not in first})
    return out


# Every command's outputs: name -> description (what actions and templates declare).
OUTPUTS: dict[str, dict[str, str]] = {
    **_STAGE_OUTPUTS,
    "pipeline": _pipeline_outputs(),
    "demo": {},
    "serve-analysis": {},
}
