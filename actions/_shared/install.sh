#!/usr/bin/env bash
# Install mlgate from the checkout this script lives in into a virtual environment, once.
#
# Every composite action in actions/ calls this by path as its first step, so they all install
# the same way:
#   - the venv goes under $RUNNER_TEMP (or $MLGATE_VENV_ROOT when set, e.g. a directory kept
#     between runs on a self-hosted runner or by a test harness), named after a hash of the
#     package source, the extras and the Python used, and is reused when it is already there;
#   - uv is used when it is on PATH, else `python -m venv` and pip;
#   - only the base package is installed, plus the extras an action asks for.
#
# Environment (all optional; none of it is ever evaluated as shell text):
#   MLGATE_EXTRAS     comma-separated extras to install, e.g. "benchmark" (default: none)
#   MLGATE_PYTHON     the Python interpreter to build the venv from (default: python3)
#   MLGATE_VENV_ROOT  the directory holding the venvs (default: $RUNNER_TEMP, else the system
#                     temporary directory)
#
# Prints the path of the installed `mlgate` executable as the last line of its standard output,
# and on GitHub Actions also writes `venv` and `mlgate` to $GITHUB_OUTPUT.
set -euo pipefail

log() { printf 'mlgate-install: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
on_github() { [[ "${GITHUB_ACTIONS:-}" == true ]]; }

if command -v sha256sum >/dev/null 2>&1; then
    sha256=(sha256sum)
else
    sha256=(shasum -a 256) # macOS
fi

src_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
[[ -f "$src_dir/pyproject.toml" && -d "$src_dir/src/mlgate" ]] \
    || die "no mlgate source at $src_dir (expected pyproject.toml and src/mlgate/)"

extras=${MLGATE_EXTRAS:-}
[[ "$extras" =~ ^[a-z0-9]+(,[a-z0-9]+)*$ || -z "$extras" ]] \
    || die "MLGATE_EXTRAS must be comma-separated extra names, got '$extras'"

python=${MLGATE_PYTHON:-python3}
python_path=$(command -v -- "$python" || true)
[[ -n "$python_path" ]] || die "Python interpreter '$python' not found on PATH"
"$python_path" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "mlgate needs Python >= 3.10, $python_path is $("$python_path" -V 2>&1)"

venv_root=${MLGATE_VENV_ROOT:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}
mkdir -p -- "$venv_root"

# The venv's name changes whenever what would be installed changes.
fingerprint=$(
    cd -- "$src_dir"
    {
        printf 'extras=%s\n' "$extras"
        "$python_path" -c 'import sys; print(sys.version)'
        sources=(pyproject.toml src)
        for extra_file in README.md LICENSE actions/_shared/constraints.txt; do
            [[ ! -e "$extra_file" ]] || sources+=("$extra_file")
        done
        find "${sources[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
            | LC_ALL=C sort -z | xargs -0 "${sha256[@]}"
    } | "${sha256[@]}" | cut -c1-16
)
# Every dependency at the version uv.lock pins (exported beside this script), so an action
# installs what the tests ran against, not whatever the index serves today.
constraints=()
if [[ -f "$src_dir/actions/_shared/constraints.txt" ]]; then
    constraints=(--constraint "$src_dir/actions/_shared/constraints.txt")
fi
venv="$venv_root/mlgate-venv-$fingerprint"
ready="$venv/.mlgate-installed"
[[ "$venv" != *$'\n'* && "$venv" != *$'\r'* ]] || die "the venv path must not hold a line break"

# Two jobs on one machine may share a venv root: let one install while the other waits.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv_root/.mlgate-install.lock"
    flock 9
fi

if [[ -f "$ready" && -x "$venv/bin/mlgate" ]]; then
    log "reusing $venv"
else
    ! on_github || echo "::group::Install mlgate"
    rm -rf -- "$venv"
    spec="$src_dir"
    [[ -z "$extras" ]] || spec="${src_dir}[$extras]"
    if command -v uv >/dev/null 2>&1; then
        log "installing $spec into $venv with uv"
        export UV_PYTHON_DOWNLOADS=never
        uv venv --quiet --no-config --python "$python_path" -- "$venv" >&2
        uv pip install --quiet --no-config --python "$venv/bin/python" \
            "${constraints[@]}" --reinstall-package mlgate -- "$spec" >&2
    else
        log "installing $spec into $venv with pip"
        "$python_path" -m venv -- "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            "${constraints[@]}" -- "$spec" >&2
    fi
    "$venv/bin/mlgate" --version >&2
    touch -- "$ready"
    ! on_github || echo "::endgroup::"
fi

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    printf 'venv=%s\nmlgate=%s\n' "$venv" "$venv/bin/mlgate" >>"$GITHUB_OUTPUT"
fi
printf '%s\n' "$venv/bin/mlgate"
