"""Reading one data file (CSV, Parquet, JSON lines) into pandas, for every command that does.

One reader so that every command refuses the same broken file with the same one-line message
naming the option and the file: empty, not UTF-8, unreadable, unparsable, duplicate columns.
"""

from __future__ import annotations

from mlgate.errors import BadInput

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def read_frame(path: str, fmt: str, option: str):
    """The file as a pandas DataFrame; exit 2 naming `option` and the file when it cannot be."""
    import pandas as pd

    try:
        if fmt == "csv":
            frame = pd.read_csv(path)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True)
    except pd.errors.EmptyDataError:
        raise BadInput(f"{option} {path}: empty file (no columns)") from None
    except UnicodeDecodeError:
        raise BadInput(f"{option} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - parsers raise many types; all mean "unreadable"
        raise BadInput(f"{option} {path}: cannot read as {fmt}: {one_line(exc)}") from None
    if len(frame.columns) == 0:
        raise BadInput(f"{option} {path}: no columns")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise BadInput(f"{option} {path}: duplicate column names")
    return frame
