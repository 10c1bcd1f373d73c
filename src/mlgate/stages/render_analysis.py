"""`mlgate render-analysis`: verify's checks written as a Flagger Canary analysis (with its
MetricTemplates) or an Argo Rollouts AnalysisTemplate, so the controller that runs the canary
in the cluster judges the model by the same definitions as CI.

A generator a person runs when the checks change, committing what it writes to the config
repository: local only (no action or GitLab template). `mlgate render-analysis --config
mlgate.yaml --environment ENV` reads an environment's `verify:` section (commands layer).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.params import OutputFile
from mlgate.stages.stage import Progress
from mlgate.stages.verify import VERIFY_PARAMS
from mlgate.verify.render.config import HOOKS

if TYPE_CHECKING:
    from mlgate.report.presentation import Presentation
    from mlgate.verify.render.config import RenderConfig
    from mlgate.verify.render.result import RenderResult

def _verify_option(name: str, **changes: Any) -> click.Parameter:
    """One of verify's options, the same definition (name, type, default), optionally
    loosened: the two commands read the same checks and schedule."""
    found = next(p for p in VERIFY_PARAMS if p.name == name)
    option = copy.copy(found)
    for key, value in changes.items():
        setattr(option, key, value)
    return option


PARAMS: tuple[click.Parameter, ...] = (
    click.Option(["--for", "target"], required=True,
                 type=click.Choice(["flagger", "argo-rollouts"]),
                 help="The controller: flagger (a Canary with its analysis and MetricTemplates) "
                 "or argo-rollouts (an AnalysisTemplate)."),
    _verify_option("checks", required=False, help=(
        "A check, as for mlgate verify: error-rate:max=1%, p95-latency:max=500ms, "
        "accuracy:max-drop=5%, drift, or name=N,query=PROMQL,min=V,max=V. Repeatable; "
        "replaces the checks of --config's environment.")),
    _verify_option("queries"),
    click.Option(["--app"], default=None,
                 help="The application: the Deployment the Canary targets, {app} in queries "
                 "(default with --config: its app)."),
    click.Option(["--environment"], default=None,
                 help="{environment} in queries; with --config, the environment whose verify "
                 "section is read (default: the first)."),
    _verify_option("namespace", help="The namespace of the manifests and the serving, "
                   "{namespace} in queries."),
    _verify_option("model_version"),
    _verify_option("evidence", help="The JSON of mlgate benchmark that promoted the model: "
                   "turns accuracy:max-drop into a range the controller applies."),
    click.Option(["--name"], default=None, metavar="NAME",
                 help="Name of the Canary or AnalysisTemplate (default: the app); Flagger's "
                 "MetricTemplates are NAME-CHECK."),
    click.Option(["--provider"], type=click.Choice(["prometheus", "web"]),
                 default="prometheus", show_default=True,
                 help="prometheus: the controller queries Prometheus and applies each range; "
                 "web: it asks mlgate serve-analysis (--analysis-url) for each verdict."),
    click.Option(["--prometheus"], default=None, metavar="URL",
                 help="Prometheus's address as the controller reaches it in the cluster, e.g. "
                 "http://prometheus.monitoring:9090."),
    click.Option(["--analysis-url"], default=None, metavar="URL",
                 help="mlgate serve-analysis's address as the controller reaches it, e.g. "
                 "http://mlgate-analysis.mlgate:8080: Flagger's webhooks and Argo Rollouts' "
                 "web provider call it."),
    click.Option(["--token-secret"], default="mlgate-analysis:token", show_default=True,
                 metavar="SECRET:KEY",
                 help="The Secret (and key) holding serve-analysis's bearer token, which the "
                 "AnalysisTemplate's web metrics send."),
    click.Option(["--webhook-token"], default="${MLGATE_ANALYSIS_TOKEN}", show_default=True,
                 metavar="TEXT",
                 help="What Flagger's webhooks send as metadata.token (Flagger sends no "
                 "headers): a placeholder the deployment fills from a Secret, e.g. Flux's "
                 "postBuild.substituteFrom. Never the token itself: the file goes to git."),
    click.Option(["--evidence-name"], default=None, metavar="FILE",
                 help="The benchmark evidence serve-analysis judges max-drop against: a file "
                 "name below the server's --evidence-dir."),
    click.Option(["--webhook", "webhooks"], multiple=True, type=click.Choice(HOOKS),
                 help="Flagger webhook types that ask serve-analysis (default: rollout and "
                 "confirm-promotion). Repeatable."),
    _verify_option("interval", help="Flagger's analysis interval; each AnalysisTemplate "
                   "metric's interval (whole seconds)."),
    _verify_option("count", help="Argo Rollouts: measurements per metric."),
    _verify_option("initial_delay", help="Argo Rollouts: each metric's initialDelay."),
    _verify_option("window", help="The query window, {window} (Flagger: the metric "
                   "interval, {{ interval }}); default: the interval."),
    _verify_option("failure_limit", help="Argo Rollouts: failureLimit; Flagger: the "
                   "threshold is this plus one (unless --threshold)."),
    _verify_option("inconclusive_limit", help="Argo Rollouts: inconclusiveLimit."),
    _verify_option("consecutive_error_limit", help="Argo Rollouts: consecutiveErrorLimit."),
    click.Option(["--threshold"], type=click.IntRange(1, 1000), default=None,
                 help="Flagger: failed checks before the canary is rolled back (default: "
                 "--failure-limit + 1)."),
    click.Option(["--step-weights"], default=None, metavar="W,W,...",
                 help="Flagger: the canary's traffic steps in percent, rising (default 1,5,25; "
                 "the last is its maxWeight)."),
    click.Option(["--step-weight"], type=click.IntRange(1, 100), default=None,
                 help="Flagger: one traffic step repeated up to --max-weight (instead of "
                 "--step-weights)."),
    click.Option(["--max-weight"], type=click.IntRange(1, 100), default=None,
                 help="Flagger: the most traffic the canary gets with --step-weight."),
    click.Option(["--port"], type=click.IntRange(1, 65535), default=None,
                 help="Flagger: the Canary's service port (without it, add the service by "
                 "hand or apply the Canary as a patch)."),
    click.Option(["--output"], type=OutputFile(), default=None,
                 help="Write the manifests to this file (atomically) instead of standard "
                 "output."),
)


class RenderAnalysis:
    name = "render-analysis"
    help = ("Write mlgate's checks as a Flagger Canary analysis with MetricTemplates and "
            "webhooks, or an Argo Rollouts AnalysisTemplate, from --check SPECs or an "
            "mlgate.yaml environment's verify section.")
    params = PARAMS
    paths = frozenset({"evidence"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> RenderConfig:
        from mlgate.stages.render_inputs import render_config

        return render_config(values)

    def run(self, config: RenderConfig, progress: Progress) -> RenderResult:
        from mlgate.verify.render.run import render

        return render(config)

    def present(self, result: RenderResult) -> Presentation:
        from mlgate.report.render_analysis import present

        return present(result)


STAGE = RenderAnalysis()
