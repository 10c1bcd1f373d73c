"""`mlgate serve-analysis`: verify's checks over HTTP for Flagger and Argo Rollouts.

A plain command, not a Stage: a stage's `run` returns one Result for the emitters to render
once, and a server returns nothing until it is stopped; what it has to say comes per request,
as the JSON lines of mlgate.ci.jsonlog. For the same reason it is local-only (no action, no
GitLab template, no --json): it runs in a container, not as a CI step.
"""

from __future__ import annotations

import click

from mlgate.commands.common import current_environ

HELP = ("Serve mlgate verify's checks over HTTP until stopped (SIGTERM, Ctrl-C): Flagger "
        "webhooks at POST /flagger/<type> (confirm-rollout, pre-rollout, rollout, "
        "confirm-traffic-increase, confirm-promotion, post-rollout, rollback) and Argo "
        "Rollouts' web metric provider at GET /analysis/<app>/<check>; GET /healthz for "
        "probes. Callers send the token of MLGATE_ANALYSIS_TOKEN; one JSON line per decision "
        "goes to stderr.")


@click.command("serve-analysis", help=HELP)
@click.option("--listen", required=True, metavar="HOST:PORT",
              help="Address to listen on: 0.0.0.0:8080 in a container, 127.0.0.1:8080 "
                   "locally, [::]:8080 for IPv6; port 0 takes a free one (the first log "
                   "line names it).")
@click.option("--prometheus", required=True, metavar="URL",
              help="Prometheus's base URL. Auth from MLGATE_PROMETHEUS_TOKEN, _USERNAME and "
                   "_PASSWORD, or _HEADERS, as for mlgate verify.")
@click.option("--prometheus-ca", default=None, type=click.Path(dir_okay=False),
              help="CA bundle (PEM) for Prometheus's TLS certificate.")
@click.option("--check", "checks", multiple=True, metavar="SPEC",
              help="A check requests may name by its name alone: a built-in with the "
                   "cluster's limits (error-rate:max=1%) or name=N,query=PROMQL,... (requests "
                   "never carry PromQL of their own). Repeatable.")
@click.option("--query", "queries", multiple=True, metavar="CHECK=PROMQL",
              help="Replace a built-in check's query, as for mlgate verify. Repeatable.")
@click.option("--evidence-dir", default=None, type=click.Path(file_okay=False),
              help="Directory of mlgate benchmark JSON files (e.g. a mounted ConfigMap) a "
                   "request's `evidence` names, for max-drop checks.")
@click.option("--window", default="1m", show_default=True, metavar="DURATION",
              help="{window} in queries when a request gives none (Flagger's interval).")
@click.option("--timeout", default="5s", show_default=True, metavar="DURATION",
              help="How long one request may spend reading Prometheus (below the caller's "
                   "own timeout: 10 s for Flagger and Argo Rollouts by default).")
@click.option("--environment", default=None,
              help="{environment} in queries when a request gives none.")
def command(**values) -> int:
    from mlgate.ci.jsonlog import json_line_writer
    from mlgate.serve.config import serve_config
    from mlgate.serve.server import AnalysisServer

    environ = current_environ()
    cfg = serve_config(values, environ)
    log = json_line_writer(environ, [cfg.token, *cfg.prometheus.secrets()])
    server = AnalysisServer(cfg, log)
    server.pool.warm()       # imports the HTTP client now, not in the first request
    log({"event": "listening", "address": server.address, "prometheus": cfg.prometheus.url,
         "checks": sorted(cfg.checks), "evidence_dir": cfg.evidence_dir})
    return _serve_until_stopped(server, log)


def _serve_until_stopped(server, log) -> int:
    """Serve until SIGTERM (Kubernetes stopping the pod) or SIGINT. A request cut off by
    the stop costs Flagger or Argo Rollouts one failed call, which they make again."""
    import signal
    import threading

    def stop(signum, frame) -> None:
        # shutdown() waits for serve_forever to return: from the thread running it (the
        # signal handler's), it would wait for itself
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log({"event": "stopped", "address": server.address})
    return 0
