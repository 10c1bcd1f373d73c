"""The decision log's writer: one JSON object per line, whole under concurrent writers, with
no secret and no raw control character in it, whatever a record carries."""

from __future__ import annotations

import io
import json
import math
import threading

from mlgate.ci.jsonlog import json_line_writer

SECRET = "tok-0123456789abcdef"


def test_a_record_is_one_line_of_strict_json_with_secrets_hidden() -> None:
    out = io.StringIO()
    write = json_line_writer({"MLGATE_ANALYSIS_TOKEN": SECRET, "HOME": "/root"},
                             ["declared-secret-value"], out=out)
    write({"path": f"/analysis/{SECRET}/x\n{{\"forged\": true}}\r\x1b[2J",
           "nested": [{"why": "declared-secret-value leaked"}], "value": math.inf,
           "nan": math.nan, "ms": 1.5})
    text = out.getvalue()
    assert text.count("\n") == 1 and text.isascii() and "\x1b" not in text
    record = json.loads(text)
    assert record["path"].startswith("/analysis/***/x") and '"forged"' in record["path"]
    assert record["nested"] == [{"why": "*** leaked"}]
    assert record["value"] is None and record["nan"] is None and record["ms"] == 1.5
    assert SECRET not in text and "declared-secret-value" not in text


def test_records_from_many_threads_stay_whole() -> None:
    out = io.StringIO()
    write = json_line_writer({}, out=out)

    def burst(n: int) -> None:
        for i in range(200):
            write({"thread": n, "i": i, "pad": "x" * 500})

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1600 and all(json.loads(line)["pad"] == "x" * 500 for line in lines)
