"""Untrusted text read as numbers or names takes ASCII only: `'²'.isdigit()` is True and
`int('²')` raises; Unicode `\\d` matches Arabic-Indic digits; `$` matches before a trailing
newline. Each reader below used to accept one of these."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlgate.errors import BadInput

ODD_NUMBERS = ["\u00b2", "\u0663", "\uff13", "3\n4", "inf", "nan", "1e9", "1_0", "-5"]


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_github_retry_after_takes_ascii_seconds_only(value):
    from mlgate.promote.providers.github_client import _retry_after_seconds

    assert _retry_after_seconds("30", 0.0) == 30.0
    assert _retry_after_seconds(" 2.5 ", 0.0) == 2.5
    assert _retry_after_seconds(value, 0.0) is None


@pytest.mark.parametrize("reset", ["\u00b2", "\u0661\u0660", "1e3"])
def test_github_ratelimit_reset_with_odd_digits_is_not_a_crash(reset):
    from github import GithubException

    from mlgate.promote.providers.github import GitHubProvider
    from mlgate.promote.providers.github_client import RESET_MARGIN

    exc = GithubException(403, {"message": "API rate limit exceeded"},
                          headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    fake = SimpleNamespace(_clock=lambda: 1000.0)
    # no usable reset: a 403 without one is a permission error (None), not a ValueError
    assert GitHubProvider._rate_limit_wait(fake, exc, 0) is None
    good = GithubException(403, {"message": "API rate limit exceeded"},
                           headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1060"})
    assert GitHubProvider._rate_limit_wait(fake, good, 0) == 60.0 + RESET_MARGIN


@pytest.mark.parametrize("header", ["Retry-After", "RateLimit-Reset"])
@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff13"])
def test_gitlab_wait_headers_with_odd_digits_are_not_a_crash(header, value):
    from mlgate.promote.providers.gitlab import GitLabProvider

    from mlgate.promote.providers.gitlab_client import RATE_LIMIT_WINDOW

    fake = SimpleNamespace(_retries_done=0)

    def answer(status: int, headers: dict) -> SimpleNamespace:
        return SimpleNamespace(status_code=status, headers=headers)

    # a 5xx with an unreadable hint: python-gitlab's short backoff, never a crash
    wait, _ = GitLabProvider._planned_wait(fake, answer(503, {header: value}))
    assert 0 <= wait <= 1.0
    # a 429 with an unreadable hint waits a second at least, and at most GitLab's window
    wait, _ = GitLabProvider._planned_wait(fake, answer(429, {header: value}))
    assert 1.0 <= wait <= RATE_LIMIT_WINDOW
    wait, hinted = GitLabProvider._planned_wait(fake, answer(429, {"Retry-After": "7"}))
    assert (wait, hinted) == (7.0, True)


@pytest.mark.parametrize("alias", ["ch\u0430mpion", "champion\n", "champ\u00b2", "v\u0661",
                                   "", "a" * 256, "a b"])
def test_mlflow_alias_is_ascii_one_line(alias):
    from mlgate.registry.mlflow_alias import _check_alias

    assert _check_alias("champion") == "champion"
    with pytest.raises(BadInput) as info:
        _check_alias(alias)
    assert str(info.value).isascii()


@pytest.mark.parametrize("version", ["3\n4", "\u0663", "\uff13", "\u00b2"])
def test_mlflow_version_is_ascii_digits(version):
    from mlgate.registry.mlflow_alias import _check_version

    assert _check_version("3", "version") == "3"
    with pytest.raises(BadInput):
        _check_version(version, "version")


@pytest.mark.parametrize("version", ["0.76.0\n", "\u0660.\u0667\u0666.\u0660", "0.76.0x"])
def test_trivy_install_version_is_ascii_whole(tmp_path, version):
    from mlgate.scan.install import install

    with pytest.raises(BadInput, match="--install-trivy"):
        install(version, str(tmp_path), {})
    assert not any(tmp_path.iterdir())


def test_sarif_start_time_is_ascii_whole():
    from mlgate.report.scan_sarif import _ISO_UTC

    assert _ISO_UTC.fullmatch("2024-05-01T10:00:00Z")
    for text in ("2024-05-01T10:00:00Z\n", "\u0662\u0660\u0662\u0664-05-01T10:00:00Z"):
        assert not _ISO_UTC.fullmatch(text)


def test_flux_policy_is_ascii_whole():
    from mlgate.manifests.config import parse_flux_policy

    assert parse_flux_policy("flux-system:churn=registry.example.com/ml/churn:v1").policy == \
        "flux-system:churn"
    with pytest.raises(BadInput):
        parse_flux_policy("flux-system:ch\u0443rn=registry.example.com/ml/churn:v1")


@pytest.mark.parametrize("text, secret", [
    ("clone https://user:pa\u00a0ss@host/x failed", "pa\u00a0ss"),
    ("clone \u00e9https://user:pass@host/x failed", "pass@"),
    ("token \u00e9ghp_" + "A" * 36 + " leaked", "ghp_" + "A" * 36),
])
def test_redaction_is_not_stopped_by_unicode_spaces_or_letters(text, secret):
    from mlgate.redact import redact_text

    assert secret not in redact_text(text, ())
