"""The one line wait-sync and verify add to their report about the outcome they recorded in
git (mlgate.audit.outcome): where it went, or, as a warning, why it did not. The verdict and
the exit code stay the command's own: recording is best effort."""

from __future__ import annotations

import dataclasses

from mlgate.audit.outcome import NOTES_REF, Recording
from mlgate.escape import escape_markdown
from mlgate.report.presentation import Annotation, Presentation, Section


def with_recording(shown: Presentation, recording: Recording | None) -> Presentation:
    """`shown` with the recording said: a section line and the JSON result's `recorded`
    (null when nothing was to be recorded), a warning annotation when it failed."""
    if recording is None:
        return dataclasses.replace(shown, result={**shown.result, "recorded": None})
    if recording.recorded:
        text = (f"Recorded on `{recording.commit[:12]}` in `{NOTES_REF}`: "
                f"`{escape_markdown(recording.line)}`")
        extra: tuple[Annotation, ...] = ()
    else:
        warning = recording.warning or "not recorded"
        text = f"⚠️ {escape_markdown(warning)}"
        extra = (Annotation("warning", warning[:500], title=f"mlgate {shown.command}"),)
    return dataclasses.replace(
        shown,
        sections=(*shown.sections, Section("Recorded outcome", text)),
        annotations=(*shown.annotations, *extra),
        result={**shown.result, "recorded": dataclasses.asdict(recording)},
    )
