"""The two entry points commands use: emit a result, or report an error, wherever we run.

Both hide secrets before anything is printed or written: the ones a command declares
(Presentation.secrets) and the values of secret-named environment variables (GITHUB_TOKEN,
CI_JOB_TOKEN, ...), since an error message from a library can carry those anywhere.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TextIO

from mlgate.atomic import write_atomic
from mlgate.ci.base import Destination, check_destination, output_text, redact
from mlgate.ci.detect import detect, detect_kind
from mlgate.errors import BadInput, ReportFailed
from mlgate.escape import one_line, printable
from mlgate.redact import env_secrets, redact_text, secret_fragments
from mlgate.report.presentation import Presentation


def check_outputs(command: str, destinations: Iterable[Destination],
                  environ: Mapping[str, str]) -> None:
    """Refuse (exit 2) before any work when a report or CI output could not be written.

    The command's own report options and the files the emitter for this place writes
    ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, GitLab's dotenv and Markdown reports) are all
    checked here, so a promotion never lands only to fail on its report.
    """
    for dest in [*destinations, *detect(environ).destinations(command)]:
        check_destination(dest)


def emit(p: Presentation, *, json_path: str | None, environ: Mapping[str, str]
         ) -> bytes | None:
    """Write `p` for where this runs, then the --json report if one was asked for.

    Every destination is tried even when one fails, so a landed promotion's commit still
    reaches the outputs that can be written; then one ReportFailed (exit 4) says what was
    done and which report failed. Returns the --json document's bytes as written (what a
    promotion hashes as evidence), or None when none was asked for.
    """
    p = with_env_secrets(p, environ)
    if p.log:
        print_untrusted(p.log, environ)
    failed: list[str] = []
    try:
        detect(environ).emit(p)
    except ReportFailed as exc:
        failed.append(str(exc))
    written = None
    if json_path:
        try:
            written = write_json(p, json_path)
        except ReportFailed as exc:
            failed.append(str(exc))
    if failed:
        raise ReportFailed(f"{done_line(p)}; only the report failed: {'; '.join(failed)}")
    return written


def preload(environ: Mapping[str, str]) -> None:
    """Import now what emitting here will need (the terminal view's rich): for a command that
    has idle time before its result, such as verify waiting for its first measurement."""
    if detect_kind(environ) in ("local", "gitlab"):   # both print the terminal view
        from mlgate.ci.local import preload as terminal

        terminal()


def done_line(p: Presentation) -> str:
    """What already happened, for a report that failed after it: a retry must not repeat it."""
    shown = redact(p)
    outputs = {k: output_text(v) for k, v in shown.outputs.items()}
    commit = outputs.get("commit") or outputs.get("promote-commit") or ""
    url = outputs.get("pr-url") or outputs.get("promote-pr-url") or ""
    if commit or url:
        what = "rollback" if p.command == "rollback" else "promotion"
        where = ", ".join(x for x in (commit and f"commit {commit}", url and f"request {url}")
                          if x)
        return f"the {what} landed ({where})"
    result = shown.result if isinstance(shown.result, dict) else {}
    if p.command == "rewrite" and outputs.get("changed") == "true" and not result.get("dry_run"):
        files = ", ".join(str(f) for f in result.get("files") or ())
        return f"the files were rewritten ({files})" if files else "the files were rewritten"
    return f"mlgate {p.command} finished: {shown.verdict}"


def with_env_secrets(p: Presentation, environ: Mapping[str, str]) -> Presentation:
    extra = tuple(s for s in env_secrets(environ) if s not in p.secrets)
    return replace(p, secrets=p.secrets + extra) if extra else p


def report(p: Presentation) -> dict[str, Any]:
    """The --json document: the same for every command, with its typed result inside."""
    shown = redact(p)
    return {
        "command": shown.command,
        "title": shown.title,
        "verdict": shown.verdict,
        "exit_code": shown.exit_code,
        "outputs": shown.outputs,
        "result": shown.result,
    }


def write_json(p: Presentation, path: str) -> bytes:
    """Write the report atomically; a reader (an upload step, a later job) never sees half.
    Returns the bytes written."""
    data = (json.dumps(report(p), indent=2, ensure_ascii=False, allow_nan=False)
            + "\n").encode("utf-8")
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ReportFailed(f"--json {path}: cannot write: {exc.strerror or exc}") from exc
    return data


def print_untrusted(text: str, environ: Mapping[str, str], out: TextIO | None = None) -> None:
    """Print text a command did not write (a diff of user YAML) to the log, safely.

    On GitHub the runner would act on any line that looks like a workflow command, so the text
    goes inside a stop-commands block; elsewhere control characters are made visible so the
    text cannot rewrite the terminal or fake GitLab log sections. Secret-named environment
    values are hidden either way.
    """
    out = out or sys.stdout
    shown = redact_text(text, secret_fragments(env_secrets(environ)))
    try:
        kind = detect_kind(environ)
    except BadInput:
        kind = "local"
    if kind == "github":
        from mlgate.ci.github import stop_commands_block

        out.write(stop_commands_block(shown))
    else:
        out.write(printable(shown))
    out.flush()


def write_document(text: str, out: TextIO | None = None) -> None:
    """Write a document mlgate generated (render-analysis's YAML) to standard output, and
    nothing else, so it can be piped (`| kubectl apply -f -`). Control characters are still
    made visible: the text carries values the user gave."""
    out = out or sys.stdout
    out.write(printable(text))
    out.flush()


def emit_error(command: str, message: str, exit_code: int, environ: Mapping[str, str]) -> None:
    """One line on stderr; on GitHub also an error annotation so the run page shows why.

    `exit_code` is accepted so that every emitter can tell bad input (2) from a failed
    service (3) if it ever needs to; today the line reads the same for both.
    """
    fragments = secret_fragments(env_secrets(environ))
    command = one_line(redact_text(str(command), fragments)) or "mlgate"
    text = one_line(redact_text(str(message), fragments)) or "failed"
    line = f"mlgate {command}: error: {text}"
    try:
        kind = detect_kind(environ)
    except BadInput:
        kind = "local"
    if kind == "github":
        from mlgate.ci.github import escape_data, escape_property, neutralize

        print(neutralize(line), file=sys.stderr)
        sys.stderr.flush()
        title = escape_property(f"mlgate {command}")
        print(f"::error title={title}::{escape_data(text)}", file=sys.stdout)
        sys.stdout.flush()
        return
    print(printable(line), file=sys.stderr)
    sys.stderr.flush()


def progress_printer(environ: Mapping[str, str], out: TextIO | None = None
                     ) -> Callable[[str], None]:
    """The line printer a stage reports progress through (an attempt, a retry, a push).

    Stages never print: this is the one place their progress reaches the log, with
    secret-named environment values hidden and control characters made visible, as for every
    other line mlgate prints.
    """
    fragments = secret_fragments(env_secrets(environ))
    try:
        github = detect_kind(environ) == "github"
    except BadInput:
        github = False

    def say(line: str) -> None:
        stream = out or sys.stdout
        text = printable(redact_text(str(line), fragments))
        if github:   # a line that looks like a workflow command must not act as one
            from mlgate.ci.github import neutralize

            text = neutralize(text)
        print(text, file=stream)
        stream.flush()

    return say
