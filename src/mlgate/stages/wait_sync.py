"""`mlgate wait-sync`: wait until Argo CD or Flux applied this commit and the workloads rolled
out, so a promotion ends in a known state rather than at the push."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.audit.outcome import Recording
    from mlgate.cluster.config import WaitSyncConfig
    from mlgate.cluster.result import WaitSyncResult
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class WaitSyncOutcome:
    result: WaitSyncResult
    recording: Recording | None  # the note written on --revision (None: none was asked)


# The help of --no-record, shared with verify: the same note, the same switch.
NO_RECORD_HELP = ("Do not record the outcome on --revision as a git note (refs/notes/mlgate "
                  "in --repo; by default it is, when --repo is given; best effort: a failure "
                  "to record is a warning, never the verdict).")


class WaitSync:
    name = "wait-sync"
    help = (
        "Wait until Argo CD or Flux applied this revision of the config repo (or a later one "
        "that contains it) and report healthy, then until the named workloads rolled out; "
        "fail at once when the controller reports the sync failed."
    )
    params: tuple[click.Parameter, ...] = (
        click.Option(["--revision"], required=True, metavar="SHA",
                     help="The config repo commit to wait for: promote's `commit` output (the "
                     "full 40-character sha)."),
        click.Option(["--argocd-app"], default=None, metavar="NAME",
                     help="Argo CD Application to watch, through Argo CD's REST API "
                     "(ARGOCD_SERVER, ARGOCD_AUTH_TOKEN), or through the Kubernetes API "
                     "with --kube."),
        click.Option(["--flux-kustomization"], default=None, metavar="NS/NAME",
                     help="Flux Kustomization to watch, through the Kubernetes API."),
        click.Option(["--flux-helmrelease"], default=None, metavar="NS/NAME",
                     help="Flux HelmRelease to watch, through the Kubernetes API."),
        click.Option(["--app-namespace"], default=None, metavar="NS",
                     help="Namespace of the Argo CD Application (Argo CD's appNamespace; "
                     "default: Argo CD's own, argocd)."),
        click.Option(["--argocd-server"], default=None, metavar="HOST[:PORT]|URL",
                     help="Argo CD API server (default: ARGOCD_SERVER): host[:port] over "
                     "HTTPS, or a full URL such as http://127.0.0.1:8080."),
        click.Option(["--argocd-project"], default=None, metavar="PROJECT",
                     help="The Application's Argo CD project: lets a missing application be "
                     "told apart from one the token may not read."),
        click.Option(["--kube"], is_flag=True,
                     help="Read the Argo CD Application through the Kubernetes API instead "
                     "of Argo CD's."),
        click.Option(["--workload", "workloads"], multiple=True, metavar="KIND/NS/NAME",
                     help="Also wait for this workload to roll out: deployment, "
                     "inferenceservice (KServe), rollout (Argo Rollouts) or canary (Flagger). "
                     "Repeatable."),
        click.Option(["--repo"], default=None, metavar="URL_OR_PATH",
                     help="The config repo: a controller already at a later commit counts "
                     "when that commit contains --revision (without it, only --revision "
                     "itself counts)."),
        click.Option(["--timeout"], default="10m", show_default=True, metavar="DURATION",
                     help="Give up (exit 1) after this long, e.g. 90s, 10m, 1h."),
        click.Option(["--interval"], default="5s", show_default=True, metavar="DURATION",
                     help="Time between two reads of one resource (one request per resource "
                     "per interval)."),
        click.Option(["--degraded-grace"], default="60s", show_default=True,
                     metavar="DURATION",
                     help="How long Degraded health may last before the wait fails."),
        click.Option(["--reconcile"], is_flag=True,
                     help="Ask Flux to reconcile now (the reconcile.fluxcd.io/requestedAt "
                     "annotation, as `flux reconcile` sets it)."),
        click.Option(["--kubeconfig"], default=None, type=click.Path(dir_okay=False),
                     help="Kubeconfig file (default: KUBECONFIG, the in-cluster service "
                     "account, then ~/.kube/config)."),
        click.Option(["--context"], default=None, help="Kubeconfig context to use."),
        click.Option(["--no-record"], is_flag=True, help=NO_RECORD_HELP),
    )
    paths = frozenset({"repo"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> WaitSyncConfig:
        from mlgate.cluster.config import WaitSyncConfig, Workload, parse_duration
        from mlgate.cluster.kube import parse_ref, parse_workload
        from mlgate.cluster.names import check_name, check_namespace
        from mlgate.cluster.revision import check_sha
        from mlgate.errors import BadInput

        given = [k for k in ("argocd_app", "flux_kustomization", "flux_helmrelease")
                 if values[k]]
        if len(given) != 1:
            raise BadInput("give exactly one of --argocd-app, --flux-kustomization or "
                           "--flux-helmrelease")
        if values["kube"] and given[0] != "argocd_app":
            raise BadInput("--kube goes with --argocd-app (Flux is always read through the "
                           "Kubernetes API)")
        if given[0] == "argocd_app":
            name = check_name(values["argocd_app"], "--argocd-app")
            namespace = (check_namespace(values["app_namespace"], "--app-namespace")
                         if values["app_namespace"] else "")
            controller = "argocd-kube" if values["kube"] else "argocd"
            if controller == "argocd-kube":
                namespace = namespace or "argocd"
        else:
            what = "--" + given[0].replace("_", "-")
            namespace, name = parse_ref(values[given[0]], what, None)
            controller = "kustomization" if given[0] == "flux_kustomization" else "helmrelease"
        workloads = []
        for text in values["workloads"]:
            workloads.append(Workload(*parse_workload(text)))
        interval = parse_duration(values["interval"], "--interval", minimum=0.1)
        return WaitSyncConfig(
            revision=check_sha(values["revision"], "--revision"),
            controller=controller,
            namespace=namespace,
            name=name,
            workloads=tuple(workloads),
            repo=values["repo"],
            timeout=parse_duration(values["timeout"], "--timeout", minimum=interval),
            interval=interval,
            degraded_grace=parse_duration(values["degraded_grace"], "--degraded-grace"),
            reconcile=values["reconcile"],
            argocd_server=values["argocd_server"],
            argocd_project=values["argocd_project"],
            kubeconfig=values["kubeconfig"],
            context=values["context"],
            environ=dict(environ),
            # absent (a canary's step reuses these options): a step is not recorded
            record=bool(values["repo"]) and values.get("no_record") is False,
        )

    def run(self, config: WaitSyncConfig, progress: Progress) -> WaitSyncOutcome:
        from mlgate.cluster.run import wait_sync

        result = wait_sync(config, progress)
        recording = None
        if config.record and config.repo:
            from mlgate.audit.outcome import WAIT_SYNC_WORDS, record_outcome

            recording = record_outcome(config.repo, config.revision, "wait-sync",
                                       WAIT_SYNC_WORDS[result.outcome], config.environ)
            progress(f"recorded {recording.line}" if recording.recorded
                     else recording.warning or "not recorded")
        return WaitSyncOutcome(result, recording)

    def present(self, outcome: WaitSyncOutcome) -> Presentation:
        from mlgate.report.outcome import with_recording
        from mlgate.report.wait_sync import present

        return with_recording(present(outcome.result), outcome.recording)


STAGE = WaitSync()
