"""The held-out data: read it, and refuse it early when it cannot answer the question.

A benchmark on the wrong columns is worse than none: a model given a reordered or renamed
feature still predicts something. So the feature columns must be exactly the models' features
(names from `feature_names_in_` or the MLflow signature), the target must be there, and the task
must fit the target. Every refusal is one line naming the file and the column.
"""

from __future__ import annotations

from pathlib import Path

from mlgate.benchmark.metrics import CLASSIFICATION, REGRESSION
from mlgate.errors import BadInput
from mlgate.tabular import FORMATS, read_frame



def data_format(path: str) -> str:
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst", ".xz") and len(suffixes) > 1:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise BadInput(f"--data {path}: unknown format; expected .csv, .parquet or .jsonl")
    return fmt


def read_table(path: str):
    """A pandas DataFrame of the whole file (the pandas engine)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"--data {path}: no such file")
    fmt = data_format(path)
    frame = read_frame(str(p), fmt, "--data")
    if len(frame) == 0:
        raise BadInput(f"--data {path}: no rows")
    return frame


def feature_columns(path: str, columns: list[str], target: str, *,
                    features: list[str] | None, slice_column: str | None = None,
                    ignore: tuple[str, ...] = (), sensitive: tuple[str, ...] = ()
                    ) -> list[str]:
    """The feature columns in the models' order; exit 2 on missing or extra columns."""
    cols = [str(c) for c in columns]
    if target not in cols:
        raise BadInput(f"--data {path}: target column {target!r} is missing "
                       f"(columns: {', '.join(cols[:20])}{' …' if len(cols) > 20 else ''})")
    if slice_column is not None and slice_column not in cols:
        raise BadInput(f"--slice {slice_column}: no such column in {path}")
    for col in ignore:
        if col not in cols:
            raise BadInput(f"--ignore-column {col}: no such column in {path}")
    for col in sensitive:
        if col not in cols:
            raise BadInput(f"--sensitive {col}: no such column in {path}")
        if col == target:
            raise BadInput(f"--sensitive {col}: it is the target")
        if features is not None and col in features:
            raise BadInput(f"--sensitive {col}: the models use it as a feature; a sensitive "
                           "column is never fed to the models")
    not_features = {target, *ignore, *sensitive} | ({slice_column} if slice_column else set())
    available = [c for c in cols if c not in not_features]
    if features is None:
        if not available:
            raise BadInput(f"--data {path}: no feature columns besides the target")
        return available
    missing = [f for f in features if f not in cols]
    if missing:
        raise BadInput(f"--data {path}: feature column(s) the models need are missing: "
                       f"{', '.join(missing[:10])}")
    extra = [c for c in available if c not in features]
    if extra:
        raise BadInput(f"--data {path}: column(s) no model uses: {', '.join(extra[:10])}; "
                       "drop them or pass --ignore-column (or --slice) for each")
    if slice_column is not None and slice_column in features:
        pass  # a feature can also be the slice column
    return list(features)


def union_labels(parts, path: str, target: str):
    """Sorted union of label arrays (truth, predictions, classes_); text and numbers together
    are refused rather than compared, naming the data file and the target column."""
    import numpy as np

    try:
        return np.unique(np.concatenate([p.astype(object) if p.dtype.kind in "OUST" else p
                                         for p in parts]))
    except TypeError:
        raise BadInput(f"--data {path}: target {target!r} and the models' predictions or "
                       "classes have different types (e.g. text against numbers); is the "
                       "model a regressor? (pass --task regression)") from None


def check_features_agree(candidate: list[str] | None, champion: list[str] | None) -> list[str] | None:
    """Both models must take the same features (order may differ); None if neither says."""
    if candidate is None or champion is None:
        return candidate or champion
    if set(candidate) != set(champion):
        only_c = sorted(set(candidate) - set(champion))
        only_p = sorted(set(champion) - set(candidate))
        raise BadInput("the models take different features: candidate only "
                       f"{only_c[:10] or '-'}, champion only {only_p[:10] or '-'}; benchmark "
                       "them on their common data separately")
    return candidate


def infer_task(path: str, target: str, target_kind: str, unique: int, rows: int,
               is_classifier: bool | None, task: str | None) -> str:
    """The task, checked against the target column.

    `target_kind`: numpy dtype kind of the target ('f' float, 'i'/'u' integer, 'b' bool,
    'O'/'U'/'S' text); floats holding whole numbers count as integer-valued ('F' not used).
    """
    textual = target_kind in ("O", "U", "S", "b", "T")
    if task is None:
        if is_classifier is not None:
            task = CLASSIFICATION if is_classifier else REGRESSION
        elif textual or (target_kind in "iu" and unique <= max(20, rows // 100 if rows else 0)):
            task = CLASSIFICATION
        else:
            task = REGRESSION
    if task == REGRESSION and textual:
        raise BadInput(f"--data {path}: target {target!r} holds text or booleans; a "
                       "regression needs a numeric target (or pass --task classification)")
    if task == CLASSIFICATION and target_kind == "f":
        raise BadInput(f"--data {path}: target {target!r} holds fractional numbers; a "
                       "classification needs class labels (or pass --task regression)")
    if task == CLASSIFICATION and unique < 2:
        raise BadInput(f"--data {path}: target {target!r} has a single class; nothing to "
                       "benchmark a classifier on")
    if is_classifier is not None and (task == CLASSIFICATION) != is_classifier:
        kind = "classifier" if is_classifier else "regressor"
        raise BadInput(f"--task {task}: the candidate is a {kind}")
    return task
