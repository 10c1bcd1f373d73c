"""One exception per exit-code class, turned into a message and an exit code only in cli.py.

Cores raise these instead of printing or exiting so that every command means the same by
the same code: 0 passed, 1 the gate said no, 2 bad input or config (nothing was written), 3 an
outside service failed after retries, 4 the command's work was done (a promotion landed, files
were rewritten, a gate ran) but a report or CI output could not be written afterwards.
"""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_GATE = 1
EXIT_BAD_INPUT = 2
EXIT_SERVICE = 3
EXIT_REPORT = 4


class MlgateError(Exception):
    """Base class; its message is the one line the user sees."""

    exit_code = EXIT_BAD_INPUT


class BadInput(MlgateError):
    """Input or configuration is wrong; nothing was written."""

    exit_code = EXIT_BAD_INPUT


class GateFailed(MlgateError):
    """The gate said no (a refusal that is the tool working as intended)."""

    exit_code = EXIT_GATE


class ServiceError(MlgateError):
    """An outside service (git remote, API, registry, Trivy) failed after retries."""

    exit_code = EXIT_SERVICE


class ReportFailed(MlgateError):
    """The work is done but a report or CI output could not be written after it.

    Its own code, because 2 promises that nothing was written: a retry after a landed
    promotion must know the commit is already there (the message names it).
    """

    exit_code = EXIT_REPORT
