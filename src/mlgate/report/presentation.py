"""What every emitter renders: built from a command's typed result, never by the core itself.

A core returns a dataclass; the command turns it into a Presentation; the emitter for the place
it runs (GitHub, GitLab, a terminal) writes it. Keeping this one shape means a new command needs
no emitter changes and a new CI needs no command changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning", "notice"]


@dataclass(frozen=True)
class Annotation:
    """A message tied to a file and line, shown inline in a pull request on GitHub."""

    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    """A part of the Markdown summary; `fold` puts it inside <details> (long or secondary parts)."""

    title: str
    markdown: str
    fold: bool = False


@dataclass(frozen=True)
class Presentation:
    command: str
    title: str
    verdict: str
    exit_code: int
    outputs: dict[str, str]
    sections: tuple[Section, ...] = ()
    table: Table | None = None
    annotations: tuple[Annotation, ...] = ()
    secrets: tuple[str, ...] = ()
    result: dict[str, Any] = field(default_factory=dict)
    # Text the command did not write (a dry run's diff of user YAML): the emitter prints it
    # to the log before the result, the way untrusted text must be printed.
    log: str = ""
