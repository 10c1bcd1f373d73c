"""Revisions in every format Argo CD and Flux report (fluxcd/pkg git.Commit.String,
AbsoluteReference and the old TransformRevision forms; Argo CD's bare SHAs and chart versions),
and the commit check against the config repo's ancestry."""

from __future__ import annotations

import pytest

from mlgate.cluster.revision import Revision, check_sha, parse_revision, revision_matches
from mlgate.errors import BadInput

WANT = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738"
CHILD = "a0c14dc8580a23f79bc654faa79c4f62b46c2c22"   # a commit on top of WANT
OLD = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"     # WANT's parent
SHA256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
OCI = "sha256:" + SHA256
ARABIC_FIVE = "\u0665"


@pytest.mark.parametrize(("text", "sha", "branch"), [
    (WANT, WANT, None),                                          # Argo CD
    (SHA256, SHA256, None),                                      # Argo CD, SHA-256 repo
    (f"main@sha1:{WANT}", WANT, "main"),                         # Flux v2
    (f"sha1:{WANT}", WANT, None),                                # Flux v2, a commit ref
    (f"refs/heads/main@sha1:{WANT}", WANT, "main"),              # Flux v2, absolute ref
    (f"refs/tags/v1.0@sha1:{WANT}", WANT, "refs/tags/v1.0"),
    (f"v1.0@sha1:{WANT}", WANT, "v1.0"),                         # Flux v2, tag
    (f"feature/x@sha1:{WANT}", WANT, "feature/x"),
    (f"a@b@sha1:{WANT}", WANT, "a@b"),                           # pointer ends at the last @
    (f"f\u00fcnf@sha1:{WANT}", WANT, "f\u00fcnf"),               # a Unicode branch name
    (f"HEAD@sha1:{WANT}", WANT, None),
    (f"main/{WANT}", WANT, "main"),                              # old Flux
    (f"feature/branch/{WANT}", WANT, "feature/branch"),
    (f"HEAD/{WANT}", WANT, None),
])
def test_commit_revisions_are_read(text, sha, branch):
    assert parse_revision(text) == Revision(sha, branch, text)


@pytest.mark.parametrize("text", [
    "1.2.3",                                    # Argo CD Helm source: a chart version
    "0.1.0+5394cb7f4833",                       # a chart built at a git revision: prefix only
    f"1.2.3@{OCI}", f"latest@{OCI}", OCI,       # Flux OCI / Helm artifacts
    f"main@sha256:{SHA256}",                    # Flux labels git hashes sha1 only
    f"main@sha1:{SHA256}", f"main/{SHA256}",
    WANT.upper(), f"main@sha1:{WANT.upper()}",  # lower-case hex only
    WANT[:39], WANT + "0", WANT[:12], SHA256[:63], SHA256 + "0",
    f"main@sha1:{WANT[:39]}", f"main@sha1:{WANT}0",
    WANT.replace("5", ARABIC_FIVE, 1),          # a Unicode digit
    f"main@sha1:{WANT.replace('5', ARABIC_FIVE, 1)}",
    WANT.replace("3", "\uff13", 1),             # a full-width digit
    WANT + "\n", " " + WANT, f"main@sha1:{WANT}\n", f"main/{WANT}\n",
    f"main branch@sha1:{WANT}", f"@sha1:{WANT}", f"/{WANT}", f"main\x00@sha1:{WANT}",
    f"main\x7f/{WANT}", f"sha1:{WANT}:", f"sha1-{WANT}", "", "HEAD",
])
def test_anything_else_names_no_commit(text):
    assert parse_revision(text) == Revision(None, None, text)


@pytest.mark.parametrize("value", [None, 5, b"5394cb7f48332b2de7c17dd8b8384bbc84b7e738"])
def test_a_revision_that_is_no_text_names_no_commit(value):
    assert parse_revision(value) == Revision(None, None, "")


@pytest.mark.parametrize(("given", "sha"), [
    (WANT, WANT), (WANT.upper(), WANT), (SHA256, SHA256), (SHA256.upper(), SHA256),
])
def test_check_sha_takes_full_shas_lower_cased(given, sha):
    assert check_sha(given, "--revision") == sha
    assert check_sha(given, "--revision", allow_short=True) == sha


@pytest.mark.parametrize("given", [WANT[:7], WANT[:12], WANT[:39]])
def test_check_sha_refuses_an_abbreviated_sha_unless_asked(given):
    with pytest.raises(BadInput) as exc:
        check_sha(given, "--revision")
    assert str(exc.value) == (f"--revision: {given!r} is an abbreviated commit SHA; give the "
                              f"full 40-character SHA (git rev-parse {given})")
    assert check_sha(given.upper(), "--revision", allow_short=True) == given


@pytest.mark.parametrize("given", [WANT[:6], WANT + "0", SHA256[:41], SHA256 + "0"])
def test_check_sha_refuses_other_lengths(given):
    for allow_short in (False, True):
        with pytest.raises(BadInput) as exc:
            check_sha(given, "--revision", allow_short=allow_short)
        assert str(exc.value) == ("--revision: expected a full commit SHA (40 hex digits), "
                                  f"got {given!r}")


@pytest.mark.parametrize("given", [
    "", "g" * 40, "main", WANT.replace("5", ARABIC_FIVE, 1), WANT.replace("3", "\uff13", 1),
    WANT + "\n", " " + WANT, f"sha1:{WANT}", None, 40,
])
def test_check_sha_refuses_what_is_no_hex(given):
    for allow_short in (False, True):
        with pytest.raises(BadInput) as exc:
            check_sha(given, "wait-sync --revision", allow_short=allow_short)
        assert str(exc.value) == ("wait-sync --revision: expected a commit SHA (hex digits), "
                                  f"got {given!r}")


class Ancestry:
    """The config repo's answer to 'does sha descend from want', with the questions asked."""

    def __init__(self, answer=None):
        self.asked: list[tuple[str, str]] = []
        self.answer = answer

    def __call__(self, sha: str, want: str):
        self.asked.append((sha, want))
        if self.answer is not None:
            return self.answer
        return (sha, want) == (CHILD, WANT)


@pytest.mark.parametrize(("reported", "matches", "asked"), [
    (WANT, True, []),
    (f"main@sha1:{WANT}", True, []),
    (f"main/{WANT}", True, []),
    (CHILD, True, [(CHILD, WANT)]),
    (f"refs/heads/main@sha1:{CHILD}", True, [(CHILD, WANT)]),
    (OLD, False, [(OLD, WANT)]),
    (f"main@sha1:{OLD}", False, [(OLD, WANT)]),
    ("1.2.3", False, []),
    (f"1.2.3@{OCI}", False, []),
    (SHA256, False, []),                      # another object format: never related
    (WANT.upper(), False, []),
    ("", False, []),
])
def test_revision_matches_this_commit_or_a_descendant(reported, matches, asked):
    ancestry = Ancestry()
    assert revision_matches(reported, WANT, ancestry) is matches
    assert ancestry.asked == asked


def test_revision_matches_takes_want_in_any_case_and_sha256():
    assert revision_matches(WANT, WANT.upper(), Ancestry()) is True
    ancestry = Ancestry(answer=True)
    other = "f" * 64
    assert revision_matches(other, SHA256, ancestry) is True
    assert ancestry.asked == [(other, SHA256)]


@pytest.mark.parametrize(("answer", "matches"), [(1, True), ("yes", True), (0, False),
                                                 ("", False), (False, False)])
def test_revision_matches_returns_a_bool(answer, matches):
    assert revision_matches(CHILD, WANT, Ancestry(answer=answer)) is matches


@pytest.mark.parametrize("want", [WANT[:7], "main", "", f"sha1:{WANT}"])
def test_revision_matches_refuses_a_want_that_is_no_full_sha(want):
    ancestry = Ancestry()
    with pytest.raises(BadInput) as exc:
        revision_matches(WANT, want, ancestry)
    assert str(exc.value).startswith("revision: ")
    assert ancestry.asked == []
