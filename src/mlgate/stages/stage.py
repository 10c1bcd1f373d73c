"""The one shape every command has, so the CLI, mlgate.yaml and the pipeline treat them alike.

In the spirit of Kargo's step runners and pre-commit's language backends: a stage declares its
inputs once (click parameters: the CLI's options, mlgate.yaml's keys, the actions' inputs),
builds and validates its typed Config from them in one place, runs, and returns a typed Result;
an emitter renders the Presentation built from that Result. Nothing here parses argv or prints,
so the pipeline can compose stages directly and hand one stage's result to the next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

if TYPE_CHECKING:
    from mlgate.report.presentation import Presentation


ConfigT = TypeVar("ConfigT")
ResultT = TypeVar("ResultT")

# Where a stage reports progress while it runs (an attempt, a retry, a push): the emitter's
# line printer, which hides secrets; the stage never prints by itself.
Progress = Callable[[str], None]


def silent(_line: str) -> None:
    """A Progress that shows nothing (tests, and callers that only want the result)."""


class Stage(Protocol[ConfigT, ResultT]):
    """One command: its inputs, its Config, its run and how its Result is presented."""

    name: str
    help: str
    # The inputs, declared once: the CLI options, mlgate.yaml's keys, the actions' inputs.
    params: tuple[click.Parameter, ...]

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> ConfigT:
        """The typed Config from the parameters' converted values (keyed by parameter name),
        or BadInput (exit 2) naming the input: the one place the inputs are validated."""
        ...

    def run(self, config: ConfigT, progress: Progress) -> ResultT:
        """Do the work (and write the report files the Config asks for)."""
        ...

    def present(self, result: ResultT) -> Presentation:
        """The Result as every emitter renders it (outputs, summary, annotations)."""
        ...
