"""How a command that stopped on an error reads: the same shape as any result, so a job's
--json file and summary exist whatever the exit code."""

from __future__ import annotations

from mlgate.report.presentation import Presentation, Section


def error_presentation(command: str, message: str, code: int) -> Presentation:
    return Presentation(
        command=command,
        title=f"mlgate {command}: error",
        verdict="error",
        exit_code=code,
        outputs={},
        sections=(Section("Error", message),),
        result={"error": message},
    )
