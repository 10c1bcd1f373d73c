"""`mlgate comply`: policies in Rego and required documents, judged before the commit."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages import landing
from mlgate.stages.params import OutputFile
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.comply.result import ComplyResult
    from mlgate.comply.run import ComplyConfig
    from mlgate.report.presentation import Presentation

# where the config repo is and how the environment's folder is found: promote's own options,
# some of them said the way comply uses them
_LOCATION = ("repo", "app", "environment", "base_path", "layout", "provider", "base")
_HELP = {
    "app": "Application name (data.mlgate.app and input.app in the policies).",
    "environment": "Environment the release goes to, e.g. production; its folder is given "
                   "by --layout.",
    "provider": "Which token variable reads the config repo: git (MLGATE_GIT_TOKEN), github "
                "(GITHUB_TOKEN), gitlab (GITLAB_TOKEN). Read over git either way.",
}


def _location() -> tuple[click.Parameter, ...]:
    out = []
    for param in landing.PARAMS:
        if param.name in _LOCATION:
            param = copy.copy(param)
            param.help = _HELP.get(param.name or "", param.help)  # type: ignore[attr-defined]
            out.append(param)
    return tuple(out)


@dataclass(frozen=True)
class ComplyStageConfig:
    core: ComplyConfig
    junit: str | None


@dataclass(frozen=True)
class ComplyOutcome:
    result: ComplyResult
    paths: dict[str, str]


class Comply:
    name = "comply"
    help = (
        "Judge a release before its commit: Rego policies (OPA / conftest style) over the "
        "environment's manifests after the promotion's rewrite and over the release's facts, "
        "and the model repository's required documents. Reads the config repo, never writes."
    )
    params: tuple[click.Parameter, ...] = (
        *_location(),
        click.Option(
            ["--image", "images"],
            multiple=True,
            metavar="REF",
            help="The image the promotion would set (repo:tag[@sha256:…]). Repeatable.",
        ),
        click.Option(
            ["--set", "sets"],
            multiple=True,
            metavar="FILE:KEY.PATH=VALUE",
            help="A value the promotion would set in FILE (relative to the environment "
            "folder). Repeatable.",
        ),
        click.Option(
            ["--policy", "policies"],
            multiple=True,
            type=click.Path(),
            metavar="DIR",
            help="A folder of .rego policies (every *.rego under it except *_test.rego), or one "
            "file. Packages mlgate.manifest and main (see --namespace) are evaluated per "
            "manifest document, mlgate.release once on the release. Repeatable.",
        ),
        click.Option(
            ["--namespace", "namespaces"],
            multiple=True,
            default=("main",),
            show_default=True,
            metavar="PACKAGE",
            help="conftest package(s) evaluated per manifest document, as conftest's "
            "--namespace. Repeatable.",
        ),
        click.Option(
            ["--evidence", "evidence"],
            multiple=True,
            type=click.Path(dir_okay=False),
            help="A gate's JSON result (validate, benchmark, scan): the release policies read "
            "it as input.gates.<gate>. Repeatable.",
        ),
        click.Option(
            ["--model-version"],
            default=None,
            metavar="V",
            help="The candidate model's version (default: the benchmark result's candidate).",
        ),
        click.Option(
            ["--document", "documents"],
            multiple=True,
            metavar="PATH[:RULE,...]",
            help="A file of the model repository the release must carry, with rules: version "
            "(it names the candidate's version), heading=H, field=F (front matter), "
            "max-age=90d (changed in git within). E.g. bias_audit.md:version,max-age=90d. "
            "Repeatable.",
        ),
        click.Option(
            ["--fairness", "fairness"],
            multiple=True,
            metavar="SPEC",
            help="A limit on the benchmark's per-group figures (benchmark --sensitive, given "
            "with --evidence): METRIC:max-gap=X, METRIC:min-ratio=X, METRIC:min-group=X, "
            "METRIC:max-group=X, METRIC:max-widen=X (the champion's gap widened by at most X), "
            "demographic_parity_difference:max=X, equalized_odds_difference:max=X, "
            "min-group-size=N (smaller groups reported, not judged; default 30). Repeatable.",
        ),
        click.Option(
            ["--model-repo"],
            default=".",
            show_default=True,
            type=click.Path(file_okay=False),
            help="The model repository's checkout, where --document paths are read.",
        ),
        click.Option(
            ["--timeout"],
            type=click.FloatRange(1, 3600),
            default=300.0,
            show_default=True,
            help="Seconds the policies may take in all before the gate fails (exit 3).",
        ),
        click.Option(
            ["--junit", "junit_path"],
            default=None,
            type=OutputFile(),
            help="Write a JUnit XML report.",
        ),
    )
    paths = frozenset({"repo", "policies", "evidence", "model_repo"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> ComplyStageConfig:
        from mlgate.comply.documents import parse_spec
        from mlgate.comply.run import ComplyConfig
        from mlgate.errors import BadInput
        from mlgate.promote.settings import check_name

        check_name(values["app"], "--app")
        check_name(values["environment"], "--environment")
        if not values["images"] and not values["sets"]:
            raise BadInput("give the promotion's --image (or --set) to judge its manifests")
        core = ComplyConfig(
            repo=values["repo"],
            app=values["app"],
            environment=values["environment"],
            env_path=landing.environment_path(values, values["environment"]),
            images=tuple(values["images"]),
            sets=tuple(values["sets"]),
            provider=values["provider"],
            base=values["base"],
            policies=tuple(values["policies"]),
            namespaces=tuple(dict.fromkeys(values["namespaces"])),
            evidence=tuple(values["evidence"]),
            model_version=(values["model_version"] or "").strip() or None,
            documents=tuple(parse_spec(d) for d in values["documents"]),
            fairness=tuple(values["fairness"]),
            model_repo=values["model_repo"],
            environ=dict(environ),
            timeout=values["timeout"],
        )
        return ComplyStageConfig(core, values["junit_path"])

    def run(self, config: ComplyStageConfig, progress: Progress) -> ComplyOutcome:
        from mlgate.comply.run import comply
        from mlgate.report.comply import write_junit

        def idle() -> None:  # the report's imports, while the policies' child finishes
            from mlgate.ci.emit import preload
            from mlgate.report.comply import present  # noqa: F401

            preload(config.core.environ)

        result = comply(config.core, idle)
        return ComplyOutcome(result, write_junit(result, config.junit))

    def present(self, outcome: ComplyOutcome) -> Presentation:
        from mlgate.report.comply import present

        return present(outcome.result, outcome.paths)


STAGE = Comply()
