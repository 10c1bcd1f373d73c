"""One exception per exit-code class, turned into a message and an exit code only in cli.py.

Cores raise these instead of printing or exiting so that every command means the same by
the same code: 0 passed, 1 the gate said no, 2 bad input or config, 3 an outside service
failed after retries.
"""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_GATE = 1
EXIT_BAD_INPUT = 2
EXIT_SERVICE = 3


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
