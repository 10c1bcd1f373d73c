"""Loading champion and candidate for real, without running code nobody vouched for.

A candidate can come from an untrusted branch, and unpickling runs whatever the file says. So:

- skops files (plain, or MLflow's sklearn flavor saved with ``serialization_format="skops"``)
  load with skops' default trusted types plus the types *the user* lists
  (`--skops-trusted-type`). MLflow stores its own trusted-types list inside the model's
  MLmodel file; a crafted model can put anything there, so mlgate does not read it;
- pickle, joblib, cloudpickle and any non-sklearn MLflow flavor need `--trust-pickle`.

Registry URIs (`models:/name@alias`, `models:/name/3`, `runs:/<id>/model`) are resolved with the
MLflow client against MLFLOW_TRACKING_URI and downloaded to a work directory first, so the same
local checks apply. A champion alias or registered model that does not exist is "no champion
yet" (None), not an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import safe_load
from mlgate.benchmark.result import ModelInfo, Role
from mlgate.errors import BadInput, ServiceError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".jbl", ".cloudpickle")
SKOPS_SUFFIXES = (".skops",)
# No whitespace in a name, alias or version, and \Z: '$' would take "models:/m/1\n"
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@\s]+)"
                         r"(?:@(?P<alias>[^/\s]+)|/(?P<version>[^/\s]+))(?P<rest>/\S*)?\Z")


@dataclass
class LoadedModel:
    """A model ready to predict, with where it came from.

    `estimator` is the scikit-learn object when there is one (so predict_proba and the
    feature names are available); otherwise `pyfunc` is an MLflow PyFuncModel.
    `mlflow_dir` is a local MLflow model directory when the model is one (the Spark engine
    hands it to `mlflow.pyfunc.spark_udf`).
    """

    info: ModelInfo
    path: Path
    estimator: Any = None
    pyfunc: Any = None
    mlflow_dir: Path | None = None
    features: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self):
        return getattr(self.estimator, "classes_", None)

    @property
    def is_classifier(self) -> bool | None:
        if self.estimator is None:
            return None
        kind = getattr(self.estimator, "_estimator_type", None)
        if kind is None:
            try:
                from sklearn.base import is_classifier
                return bool(is_classifier(self.estimator))
            except Exception:  # noqa: BLE001 - not a scikit-learn estimator
                return None
        return kind == "classifier"

    @property
    def has_proba(self) -> bool:
        return self.estimator is not None and hasattr(self.estimator, "predict_proba")

    def predict(self, frame):
        import numpy as np

        try:
            if self.estimator is not None:
                out = self.estimator.predict(frame)
            else:
                out = self.pyfunc.predict(frame)
        except Exception as exc:  # noqa: BLE001 - the model's own code failed on this data
            raise BadInput(f"{self.info.role} {self.info.uri}: predict failed on the data: "
                           f"{type(exc).__name__}: {str(exc)[:300]}") from None
        if hasattr(out, "to_numpy"):
            out = out.to_numpy()
        out = np.asarray(out)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim != 1 or len(out) != len(frame):
            raise BadInput(f"{self.info.role} {self.info.uri}: predict returned shape "
                           f"{out.shape} for {len(frame)} rows; expected one value per row")
        return out

    def predict_proba(self, frame):
        if not self.has_proba:
            return None
        import numpy as np

        try:
            return np.asarray(self.estimator.predict_proba(frame), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001
            raise BadInput(f"{self.info.role} {self.info.uri}: predict_proba failed on the "
                           f"data: {type(exc).__name__}: {str(exc)[:300]}") from None


def disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@contextmanager
def _pickle_allowed(allowed: bool):
    """MLflow's own switch for unpickling, set for the duration of one load."""
    key = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
    before = os.environ.get(key)
    os.environ[key] = "true" if allowed else "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _needs_trust(role: Role, uri: str, what: str) -> BadInput:
    return BadInput(f"{role} {uri}: {what} can run arbitrary code when loaded; pass "
                    "--trust-pickle only if you trust where it came from (or save it with "
                    "skops)")


def _load_skops(role: Role, uri: str, path: Path, trusted: tuple[str, ...], trust_all: bool):
    try:
        import skops.io as sio
    except ImportError:
        raise BadInput("loading skops models needs the skops package: pip install "
                       "'mlgate[benchmark]'") from None
    try:
        untrusted = list(sio.get_untrusted_types(file=path))
    except Exception as exc:  # noqa: BLE001 - corrupt or not a skops file
        raise BadInput(f"{role} {uri}: not a readable skops file ({type(exc).__name__}: "
                       f"{str(exc)[:200]})") from None
    unknown = [t for t in untrusted if t not in trusted]
    if unknown and not trust_all:
        raise BadInput(f"{role} {uri}: the skops file holds types that are not trusted by "
                       f"default: {', '.join(sorted(unknown))}; review them and pass "
                       "--skops-trusted-type for each (the model's own list is not used), or "
                       "--trust-pickle")
    try:
        return sio.load(path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{role} {uri}: cannot load the skops file ({type(exc).__name__}: "
                       f"{str(exc)[:200]})") from None


def _load_pickle(role: Role, uri: str, path: Path, trust: bool):
    if not trust:
        raise _needs_trust(role, uri, f"a {path.suffix or 'pickle'} file")
    try:
        import joblib

        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - corrupt file or missing class
        raise BadInput(f"{role} {uri}: cannot load the model file ({type(exc).__name__}: "
                       f"{str(exc)[:200]})") from None


def _features_from_signature(model_dir: Path) -> list[str] | None:
    try:
        from mlflow.models import Model

        sig = Model.load(str(model_dir / "MLmodel")).signature
    except Exception:  # noqa: BLE001 - a model without a readable signature
        return None
    if sig is None or sig.inputs is None:
        return None
    try:
        names = sig.inputs.input_names()
    except Exception:  # noqa: BLE001 - tensor signatures have no names
        return None
    names = [str(n) for n in names if n is not None]
    return names or None


def _load_mlflow_dir(role: Role, uri: str, model_dir: Path, trusted: tuple[str, ...],
                     trust: bool) -> tuple[str, Any, Any]:
    """(format, estimator, pyfunc) for a local MLflow model directory."""
    # the shared loader: a crafted MLmodel (alias bomb, deep nesting, huge) is exit 2 here,
    # before MLflow's own YAML loading of the same file ever sees it
    meta = safe_load.load_yaml(str(model_dir / "MLmodel"), f"--{role} {uri}/MLmodel") or {}
    if not isinstance(meta, dict):
        raise BadInput(f"--{role} {uri}/MLmodel: expected a mapping")
    flavors = meta.get("flavors") or {}
    if not isinstance(flavors, dict):
        raise BadInput(f"--{role} {uri}/MLmodel: `flavors` must be a mapping")
    sk = flavors.get("sklearn")
    if isinstance(sk, dict):
        fmt = sk.get("serialization_format", "cloudpickle")
        data = model_dir / str(sk.get("pickled_model", "model.pkl"))
        if not data.resolve().is_relative_to(model_dir.resolve()):
            raise BadInput(f"{role} {uri}: MLmodel points outside the model directory")
        if not data.is_file():
            raise BadInput(f"{role} {uri}: model file {data.name} is missing")
        if fmt == "skops":
            return "mlflow-sklearn-skops", _load_skops(role, uri, data, trusted, trust), None
        if not trust:
            raise _needs_trust(role, uri, f"an MLflow sklearn model saved with {fmt}")
        return f"mlflow-sklearn-{fmt}", _load_pickle(role, uri, data, True), None
    if not trust:
        raise _needs_trust(role, uri, "an MLflow model of flavor "
                           f"{', '.join(sorted(flavors)) or 'unknown'}")
    try:
        import mlflow.pyfunc

        with _pickle_allowed(True):
            model = mlflow.pyfunc.load_model(str(model_dir))
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{role} {uri}: cannot load the MLflow model ({type(exc).__name__}: "
                       f"{str(exc)[:200]})") from None
    impl = None
    try:
        impl = model.get_raw_model() if hasattr(model, "get_raw_model") else None
    except Exception:  # noqa: BLE001
        impl = None
    estimator = impl if hasattr(impl, "predict") and hasattr(impl, "fit") else None
    return "mlflow-pyfunc", estimator, model


@dataclass(frozen=True)
class Resolved:
    local: Path
    name: str | None = None
    version: str | None = None
    run_id: str | None = None


def _mlflow_error_code(exc: Exception) -> str:
    return str(getattr(exc, "error_code", "") or "")


def _resolve_registry(role: Role, uri: str, workdir: Path,
                      registry: Mapping[str, str] | None = None) -> Resolved | None:
    """`registry`: MLflow's tracking_uri / registry_uri given explicitly (from the environ
    mapping the command was given); those not given are MLflow's defaults (os.environ)."""
    try:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise BadInput(f"{role} {uri}: MLflow URIs need mlflow: pip install "
                       "'mlgate[benchmark]'") from None
    name = version = run_id = None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uris = {k: v for k, v in (registry or {}).items() if v}
    client = MlflowClient(**uris)
    m = _MODELS_URI.match(uri)
    if m is None and uri.startswith("models:/"):
        raise BadInput(f"{role} {uri!r}: expected models:/NAME/VERSION or models:/NAME@ALIAS")
    try:
        if m:
            name = m.group("name")
            if m.group("alias"):
                mv = client.get_model_version_by_alias(name, m.group("alias"))
            elif re.fullmatch(r"[0-9]+", m.group("version")):  # ASCII: isdigit() takes "²"
                mv = client.get_model_version(name, m.group("version"))
            else:
                raise BadInput(f"{role} {uri}: a models:/ URI takes @alias or a version "
                               "number")
            version, run_id = str(mv.version), mv.run_id
        elif uri.startswith("runs:/"):
            run_id = uri[len("runs:/"):].split("/", 1)[0]
        dest = workdir / role
        dest.mkdir(parents=True, exist_ok=True)
        local = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=_download_uri(client, uri, m, version, uris), dst_path=str(dest),
            **uris))
    except MlflowException as exc:
        code = _mlflow_error_code(exc)
        if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE") \
                and m and role == "champion":
            return None
        if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE",
                    "PERMISSION_DENIED", "UNAUTHENTICATED"):
            raise BadInput(f"{role} {uri}: {exc.message.splitlines()[0][:300]}") from None
        raise ServiceError(f"{role} {uri}: the MLflow tracking server failed: "
                           f"{exc.message.splitlines()[0][:300]}") from None
    except BadInput:
        raise
    except OSError as exc:
        raise ServiceError(f"{role} {uri}: cannot reach the MLflow tracking server or its "
                           f"artifact store: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - requests / artifact-store errors
        raise ServiceError(f"{role} {uri}: cannot download the model: "
                           f"{type(exc).__name__}: {str(exc)[:300]}") from None
    return Resolved(local, name, version, run_id)


def _download_uri(client, uri: str, m: re.Match | None, version: str | None,
                  uris: Mapping[str, str]) -> str:
    """What to download for `uri`: itself, except a models:/ URI with explicit registry URIs.

    MLflow resolves a models:/ URI against its process-wide registry (os.environ) whatever
    registry_uri it is given; so with explicit URIs, the version found with `client` is
    downloaded from where that client says it is. Databricks and Unity Catalog registries
    resolve their own way (temporary credentials): their URIs go to MLflow as they are."""
    if m is None or version is None or not uris:
        return uri
    from mlflow.utils.uri import (
        is_databricks_unity_catalog_uri,
        is_databricks_uri,
        is_oss_unity_catalog_uri,
    )

    registry = uris.get("registry_uri") or uris.get("tracking_uri") or ""
    if any(check(registry) for check in (is_databricks_uri, is_databricks_unity_catalog_uri,
                                         is_oss_unity_catalog_uri)):
        return uri
    found = str(client.get_model_version_download_uri(m.group("name"), version))
    if not found or found.startswith("models:/"):
        return uri
    return found.rstrip("/") + (m.group("rest") or "")


def load_model(uri: str, role: Role, *, workdir: Path, trust_pickle: bool = False,
               trusted_types: tuple[str, ...] = (),
               registry: Mapping[str, str] | None = None) -> LoadedModel | None:
    """Load one model; None only for a champion whose registry alias or model is missing."""
    uri = str(uri).strip()
    if not uri:
        raise BadInput(f"--{role}: empty model URI")
    resolved: Resolved
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:/", uri) and not re.match(r"^[a-zA-Z]:[\\/]", uri) \
            and not uri.startswith("file:"):
        got = _resolve_registry(role, uri, workdir, registry)
        if got is None:
            return None
        resolved = got
    else:
        local = Path(uri[len("file://"):] if uri.startswith("file://") else uri).expanduser()
        if not local.exists():
            raise BadInput(f"--{role} {uri}: no such file or directory")
        resolved = Resolved(local)

    path = resolved.local
    mlflow_dir = None
    if path.is_dir():
        if not (path / "MLmodel").is_file():
            raise BadInput(f"--{role} {uri}: a directory without an MLmodel file is not an "
                           "MLflow model")
        fmt, estimator, pyfunc = _load_mlflow_dir(role, uri, path, trusted_types, trust_pickle)
        mlflow_dir = path
    elif path.suffix.lower() in SKOPS_SUFFIXES:
        fmt, estimator, pyfunc = "skops", _load_skops(role, uri, path, trusted_types,
                                                      trust_pickle), None
    elif path.suffix.lower() in PICKLE_SUFFIXES:
        estimator = _load_pickle(role, uri, path, trust_pickle)
        fmt, pyfunc = path.suffix.lower().lstrip("."), None
        fmt = "joblib" if fmt in ("joblib", "jbl") else "pickle"
    else:
        raise BadInput(f"--{role} {uri}: unknown model format; expected an MLflow model "
                       f"directory or URI, or a file ending in "
                       f"{', '.join(SKOPS_SUFFIXES + PICKLE_SUFFIXES)}")
    if estimator is not None and not hasattr(estimator, "predict"):
        raise BadInput(f"--{role} {uri}: the loaded object ({type(estimator).__name__}) has "
                       "no predict method")

    features = None
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        features = [str(n) for n in names]
    elif mlflow_dir is not None:
        features = _features_from_signature(mlflow_dir)
    classes = getattr(estimator, "classes_", None)
    info = ModelInfo(role=role, uri=uri, format=fmt, size_bytes=disk_size(path),
                     name=resolved.name, version=resolved.version, run_id=resolved.run_id,
                     features=tuple(features or ()),
                     classes=tuple(str(c) for c in classes) if classes is not None else ())
    return LoadedModel(info, path, estimator, pyfunc, mlflow_dir, features)
