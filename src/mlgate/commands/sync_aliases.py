"""`mlgate sync-aliases`: point MLflow aliases at what the config repo's environments run."""

from __future__ import annotations

import click

from mlgate.commands.common import finish, json_option

OUTPUTS: dict[str, str] = {
    "changed": "true when at least one alias was moved, else false.",
    "moved": "The aliases moved, one 'model@alias=version' per line; empty when none.",
    "aliases": "How many aliases the config repo's records name (moved or not).",
}


@click.command("sync-aliases", help="Move each MLflow registry alias that promotions recorded "
               "(Mlgate-Registry trailers) to the model version its environment runs at the "
               "config repo's head: for pull-request mode, run on pushes to the config repo. "
               "Idempotent: an alias already there is not touched.")
@click.option("--repo", required=True, metavar="URL_OR_PATH",
              help="The config repository: https/ssh URL or a local path. Credentials never go "
                   "in the URL: the token comes from MLGATE_GIT_TOKEN (user "
                   "MLGATE_GIT_USERNAME), or GITHUB_TOKEN / GITLAB_TOKEN with --provider "
                   "github / gitlab.")
@click.option("--app", default=None, help="Only this application's aliases (default: all).")
@click.option("--environment", default=None,
              help="Only this environment's aliases (default: all).")
@click.option("--base", default="main", show_default=True,
              help="Branch Argo CD or Flux watch: its head is what the environments run.")
@click.option("--provider", type=click.Choice(["git", "github", "gitlab"]), default="git",
              show_default=True, help="Which token variable reaches the config repo (git: "
              "MLGATE_GIT_TOKEN; github/gitlab: also GITHUB_TOKEN / GITLAB_TOKEN); read over git.")
@click.option("--tracking-uri", default=None, help="MLflow tracking/registry URI "
              "(default: MLFLOW_TRACKING_URI).")
@json_option
def command(**kw) -> int:
    from mlgate.commands.common import current_environ
    from mlgate.promote.settings import build_target, check_name
    from mlgate.promote.alias_sync import sync_aliases
    from mlgate.promote.config import SyncConfig
    from mlgate.report.promote import present_sync

    environ = current_environ()
    for key, what in (("app", "--app"), ("environment", "--environment")):
        if kw[key] is not None:
            check_name(kw[key], what)
    target = build_target(repo=kw["repo"], provider=kw["provider"], mode="push",
                          base=kw["base"], api_url=None, environ=environ)
    cfg = SyncConfig(target=target, app=kw["app"], environment=kw["environment"],
                     tracking_uri=kw["tracking_uri"] or environ.get("MLFLOW_TRACKING_URI"))
    result = sync_aliases(cfg, say=click.echo)
    return finish(present_sync(result, target), kw["json_path"])
