"""The log of a long-running command (`mlgate serve-analysis`): one JSON object per line on
stderr, as log collectors (Loki, Fluent Bit, Cloud Logging) read a container's output.

It is an emitter like the others, so the rules of every line mlgate prints hold here too:
secret-named environment values (the server's own MLGATE_ANALYSIS_TOKEN among them) and the
secrets a command declares are hidden in every string, and nothing but printable ASCII reaches
the stream (json.dumps escapes the rest), so a request's path or a Prometheus message can
neither split a record nor fake one. Records come from many request threads: each is written
whole, under a lock.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from mlgate.redact import env_secrets, redact_value, secret_fragments

Record = Mapping[str, Any]


def json_line_writer(environ: Mapping[str, str], secrets: Iterable[str] = (),
                     out: TextIO | None = None) -> Callable[[Record], None]:
    """A function writing one record as one line (non-finite numbers become null)."""
    fragments = secret_fragments([*env_secrets(environ), *secrets])
    lock = threading.Lock()

    def write(record: Record) -> None:
        shown = redact_value(dict(record), fragments)
        line = json.dumps(shown, ensure_ascii=True, allow_nan=False, default=str,
                          separators=(",", ":"))
        stream = out or sys.stderr
        with lock:
            stream.write(line + "\n")
            stream.flush()

    return write
