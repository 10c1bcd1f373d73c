"""Writing the report files a verify run was asked for, atomically, before its exit code.

Written whatever the verdict: a failed or rolled-back run is exactly when someone opens them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mlgate.atomic import write_atomic
from mlgate.errors import BadInput
from mlgate.verify.result import VerifyResult

# the report's output name (the key of `destinations` and of the answer) -> its option
OPTIONS = {"report": "--report", "junit": "--junit", "metrics-file": "--metrics-file"}


def write_reports(result: VerifyResult, destinations: Mapping[str, str | None]
                  ) -> dict[str, str]:
    """Write each report given a path (keys: OPTIONS); the paths written, by output name.

    Text is encoded with lone surrogates replaced: a server's JSON can carry one, and a
    report must still be written (JUnit's cleaning removes them anyway)."""
    unknown = sorted(set(destinations) - set(OPTIONS))
    if unknown:
        raise ValueError(f"no verify report named {', '.join(unknown)}")
    written: dict[str, str] = {}
    for name, option in OPTIONS.items():
        path = destinations.get(name)
        if not path:
            continue
        text = _writer(name)(result)
        try:
            write_atomic(path, text.encode("utf-8", "replace"))
        except OSError as exc:
            raise BadInput(f"{option} {path!r}: cannot write: {exc.strerror or exc}") from None
        written[name] = path
    return written


def _writer(name: str) -> Callable[[VerifyResult], str]:
    if name == "report":
        from mlgate.report.verify_markdown import markdown

        return markdown
    if name == "junit":
        from mlgate.report.verify_junit import junit

        return junit
    from mlgate.report.verify_metrics import metrics

    return metrics
