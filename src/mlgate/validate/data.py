"""Finding and reading the data to validate: CSV, Parquet or JSON lines, one file or a glob of
files read as one batch.

The format comes from the file name (.csv, .parquet/.pq, .jsonl/.ndjson/.json); every file of a
batch must have the same format and the same columns, since a batch whose files disagree would
validate a union nobody wrote. Any file that cannot be read is bad input naming that file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import BadInput
from mlgate.tabular import FORMATS, one_line, read_frame

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class DataFiles:
    """What `--data` named: the files in order, and their one format."""

    given: str
    files: tuple[str, ...]
    format: str


def find_files(pattern: str, option: str = "--data") -> DataFiles:
    """The files a path or glob names (sorted, so a batch reads the same everywhere)."""
    if not pattern.strip():
        raise BadInput(f"{option}: empty path")
    if _GLOB_CHARS & set(pattern):
        files = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not files:
            raise BadInput(f"{option} {pattern}: no file matches")
    else:
        if not os.path.exists(pattern):
            raise BadInput(f"{option} {pattern}: no such file")
        if os.path.isdir(pattern):
            raise BadInput(f"{option} {pattern}: is a directory; give a file or a glob "
                           f"such as {os.path.join(pattern, '*.parquet')}")
        files = [pattern]
    formats = {}
    for f in files:
        fmt = FORMATS.get(Path(f).suffix.lower())
        if fmt is None:
            raise BadInput(f"{option} {f}: unknown format; expected .csv, .parquet, .pq, "
                           ".jsonl, .ndjson or .json (JSON lines)")
        formats.setdefault(fmt, f)
    if len(formats) > 1:
        raise BadInput(f"{option} {pattern}: mixes formats ({', '.join(sorted(formats))}); a "
                       "batch is one format")
    for f in files:
        if not os.access(f, os.R_OK):
            raise BadInput(f"{option} {f}: cannot read: permission denied")
        if os.path.getsize(f) == 0:
            raise BadInput(f"{option} {f}: empty file")
    return DataFiles(given=pattern, files=tuple(files), format=next(iter(formats)))


def read_pandas(data: DataFiles, option: str = "--data"):
    """The batch as one pandas DataFrame."""
    frames = []
    columns = None
    for f in data.files:
        frame = read_frame(f, data.format, option)
        if columns is None:
            columns = list(frame.columns)
            first = f
        elif list(frame.columns) != columns:
            raise BadInput(f"{option} {f}: columns differ from {first}'s; the files of a batch "
                           "need the same columns")
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def read_spark(spark, data: DataFiles, option: str = "--data"):
    """The batch as one Spark DataFrame (Spark reads the files itself, in parallel)."""
    reader = spark.read
    try:
        if data.format == "csv":
            frame = reader.csv(list(data.files), header=True, inferSchema=True)
        elif data.format == "parquet":
            frame = reader.parquet(*data.files)
        else:
            frame = reader.option("mode", "FAILFAST").json(list(data.files))
        columns = frame.columns
    except Exception as exc:  # noqa: BLE001 - py4j and Spark's own errors
        raise BadInput(f"{option} {data.given}: Spark cannot read it as {data.format}: "
                       f"{one_line(exc)}") from None
    if not columns or columns == ["_corrupt_record"]:
        raise BadInput(f"{option} {data.given}: no columns")
    return frame


