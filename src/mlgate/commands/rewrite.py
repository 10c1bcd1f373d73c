"""`mlgate rewrite`: point image references and model versions in manifests at new values."""

from __future__ import annotations

import click

from mlgate.commands.common import OutputFile, current_environ, finish, json_option

OUTPUTS: dict[str, str] = {
    "changed": "true when at least one value was changed (or would be, with --dry-run), else false.",
    "files": "JSON array of the files changed, relative to --root.",
    "changes": "JSON array of {file, line, path, kind, old, new}, one per value changed.",
}


@click.command(
    "rewrite",
    help="Rewrite image tags/digests and other values in Kubernetes, Kustomize, Helm, Argo CD, "
    "Flux and KServe YAML, changing only the bytes of the values it sets.",
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="REF",
    help="New image reference (repo:tag, repo@sha256:..., or repo:tag@sha256:...). Every "
    "reference to that repository under PATH is pointed at it. Repeatable.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FILE:KEY.PATH=VALUE",
    help="Set one scalar, e.g. 'apps/churn.yaml:spec.source.helm.parameters[name=model.version]"
    ".value=7'. Repeatable.",
)
@click.option(
    "--flux-policy",
    "flux_policies",
    multiple=True,
    metavar="NAMESPACE:NAME=REF",
    help="Update fields marked with a Flux setter comment '# {\"$imagepolicy\": "
    "\"NAMESPACE:NAME[:tag|:name|:digest]\"}' from REF. Repeatable.",
)
@click.option(
    "--expect-current",
    "expect_current",
    multiple=True,
    metavar="REF",
    help="Refuse (exit 1) unless every reference to REF's repository currently is REF. "
    "Guards against a stale job overwriting an environment. Repeatable, one per image.",
)
@click.option("--dry-run", is_flag=True, help="Print the unified diff and write nothing.")
@click.option(
    "--diff",
    "diff_path",
    type=OutputFile(),
    default=None,
    help="Write the unified diff of the change to this file.",
)
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Do not fail (exit 1) when an --image or --flux-policy matches nothing.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Directory every PATH and --set FILE must stay inside (symlinks included).",
)
@json_option
def command(
    paths: tuple[str, ...],
    images: tuple[str, ...],
    sets: tuple[str, ...],
    flux_policies: tuple[str, ...],
    expect_current: tuple[str, ...],
    dry_run: bool,
    diff_path: str | None,
    allow_missing: bool,
    root: str,
    json_path: str | None,
) -> int:
    from mlgate.manifests.config import RewriteConfig
    from mlgate.manifests.engine import rewrite
    from mlgate.report.rewrite import present

    config = RewriteConfig.from_cli(
        root=root,
        paths=paths,
        images=images,
        sets=sets,
        flux_policies=flux_policies,
        expect_current=expect_current,
        dry_run=dry_run,
        diff_path=diff_path,
        allow_missing=allow_missing,
    )
    result = rewrite(config)
    if dry_run and result.diff:
        from mlgate.ci.emit import print_untrusted

        print_untrusted(result.diff, current_environ())
    return finish(present(result), json_path)
