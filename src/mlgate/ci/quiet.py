"""An emitter for a command run inside another (the pipeline's gates): one line, no outputs.

The pipeline emits one combined result for where it runs; if each gate also wrote
$GITHUB_OUTPUT, the step summary or a dotenv report, the same output names would be written
three times and the summary would repeat itself.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from mlgate.ci.base import Destination, redact
from mlgate.escape import one_line, printable
from mlgate.report.presentation import Presentation


class QuietEmitter:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def destinations(self, command: str) -> list[Destination]:
        """Nothing but the log: no file to check before the work."""
        return []

    def emit(self, p: Presentation) -> None:
        shown = redact(p)
        print(printable(one_line(f"  mlgate {shown.command}: {shown.verdict}")), file=sys.stdout)
        sys.stdout.flush()
