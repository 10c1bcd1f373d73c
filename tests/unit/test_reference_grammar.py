"""The image reference grammar, attacked: homoglyphs, non-ASCII digits, trailing newlines and
empty parts are refused with exit 2 and one line naming the input, through `mlgate rewrite`,
`mlgate promote` (a real bare repo) and `mlgate scan`, and nothing is written. Hypothesis checks
the parser against the ASCII grammar and an independent transcription of Docker's."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from support.configrepo import example_remote, git

from mlgate.cli import main
from mlgate.errors import BadInput
from mlgate.manifests.reference import (
    InvalidReference,
    normalize_name,
    parse_reference,
    parse_user_reference,
    split_name,
)

IMG = "registry.example.com/ml/churn"
HEX = "0123456789abcdef"
DIGEST = "sha256:" + "c" * 64
ENV = {"PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": "team/churn-model",
       "GITHUB_SHA": "a" * 40, "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com"}

# (reference, what is wrong with it): each is refused before anything is read or written
BAD = [
    (f"{IMG}:v1.5.0-r\u0435lease", "Cyrillic е in the tag"),
    (f"{IMG}:v\uff11.5.0", "full-width digit in the tag"),
    (f"{IMG}:v\u0661.\u0665.\u0660", "Arabic-Indic digits in the tag"),
    (f"{IMG}:v1.5.0\u00b2", "superscript two ('²'.isdigit() is True)"),
    (f"registry.ex\u0430mple.com/ml/churn:v1.5.0", "Cyrillic а in the host"),
    ("registry.example.com:\uff15000/ml/churn:v1.5.0", "full-width digit in the port"),
    ("registry.example.com:5\u0660/ml/churn:v1.5.0", "Arabic-Indic digit in the port"),
    (f"registry.example.com/ml/ch\u00fcrn:v1.5.0", "ü in the path"),
    (f"registry.example.com/ml/\u0441hurn:v1.5.0", "Cyrillic с in the path"),
    (f"{IMG}:v1.5.0\n", "trailing newline"),
    (f"{IMG}:v1.5.0\r", "trailing carriage return"),
    (f"{IMG}:v1.5.0\u2028", "line separator"),
    (f"{IMG}:v1.5.0\x00", "NUL"),
    (f"{IMG}:v1.5.0 ", "trailing space"),
    ("registry.example.com/ML/churn:v1.5.0", "uppercase path"),
    (f"{IMG}:" + "a" * 129, "129-character tag"),
    (f"{IMG}:.v1", "tag starting with a dot"),
    (f"{IMG}:-v1", "tag starting with a dash"),
    (f"{IMG}:", "empty tag"),
    (f"{IMG}@", "empty digest"),
    (f"{IMG}:v1@", "empty digest after a tag"),
    ("registry.example.com//churn:v1.5.0", "empty path component"),
    ("registry.example.com/:v1.5.0", "empty path"),
    (":v1.5.0", "empty name"),
    ("/ml/churn:v1.5.0", "empty host"),
    ("registry.example.com:/ml/churn:v1.5.0", "empty port"),
    ("registry..example.com/ml/churn:v1.5.0", "empty host label"),
    ("registry.example.com/ml/churn_:v1.5.0", "path ending in a separator"),
    ("registry.example.com/ml/a___b:v1.5.0", "three underscores"),
    ("[fe80::1%25eth0]:5000/ml/churn:v1.5.0", "IPv6 zone identifier"),
    ("[::ffff:10.0.0.1]:5000/ml/churn:v1.5.0", "IPv4-mapped IPv6"),
    (f"{IMG}@sha256:" + "C" * 64, "uppercase hex digest"),
    (f"{IMG}@sha256:" + "c" * 63, "short digest"),
    (f"{IMG}@md5:" + "c" * 32, "unregistered digest algorithm"),
    (f"{IMG}@sha256:" + "\uff43" * 64, "full-width hex digest"),
    ("a" * 64, "an image ID, not a name"),
]
GOOD = [
    "nginx", "nginx:1.27", "library/nginx@" + DIGEST, f"{IMG}:v1.5.0", f"{IMG}:v1.5.0@{DIGEST}",
    "localhost/churn:v1", "localhost:5000/ml/churn:v1", "[::1]:5000/ml/churn:v1",
    "[2001:db8::1]/churn:v1", "Registry.Example.com/ml/churn:V1_x", "r.io/a__b/c---d/e.f_g:_1",
    "127.0.0.1:5000/ml/churn:v1", f"{IMG}@sha512:" + "d" * 128, "a" * 64 + ":v1",
]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize("text, why", BAD, ids=[why for _, why in BAD])
def test_bad_reference_is_refused(text, why):
    with pytest.raises(InvalidReference):
        parse_reference(text)


@pytest.mark.parametrize("text", GOOD)
def test_good_reference_parses_and_round_trips(text):
    assert str(parse_reference(text)) == text


def test_homoglyph_is_named_by_code_point():
    with pytest.raises(BadInput) as info:
        parse_user_reference(f"{IMG}:v1.5.0-r\u0435lease", "--image")
    message = str(info.value)
    assert "U+0435" in message and "\\u0435" in message and "\u0435" not in message
    assert message.isascii() and "\n" not in message


# --------------------------------------------------------------------------- rewrite


DEPLOYMENT = (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: churn\nspec:\n"
              f"  template:\n    spec:\n      containers:\n        - name: main\n"
              f"          image: {IMG}:v1.4.0\n")
KUSTOMIZATION = f"images:\n  - name: {IMG}\n    newTag: v1.4.0\n"


@pytest.mark.parametrize("text, why", BAD, ids=[why for _, why in BAD])
def test_rewrite_refuses_bad_image_and_writes_nothing(tmp_path, capsys, text, why):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "deployment.yaml").write_text(DEPLOYMENT)
    (root / "kustomization.yaml").write_text(KUSTOMIZATION)
    before = _snapshot(root)
    code = main(["rewrite", "--root", str(root), "--image", text, "."],
                environ={"PATH": "/usr/bin:/bin"})
    line = _one_line(capsys.readouterr().err)
    assert code == 2
    assert "--image" in line and ascii(text[:60])[1:-1] in line
    assert _snapshot(root) == before


def test_rewrite_expect_current_refuses_homoglyph(tmp_path, capsys):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "kustomization.yaml").write_text(KUSTOMIZATION)
    code = main(["rewrite", "--root", str(root), "--image", f"{IMG}:v1.5.0",
                 "--expect-current", f"{IMG}:v1.4.\u0660", "."], environ={"PATH": "/usr/bin:/bin"})
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "--expect-current" in line and "\\u0660" in line
    assert (root / "kustomization.yaml").read_text() == KUSTOMIZATION


def test_set_path_index_takes_ascii_digits_only(tmp_path, capsys):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "deployment.yaml").write_text(DEPLOYMENT)
    code = main(["rewrite", "--root", str(root), "--set",
                 "deployment.yaml:spec.template.spec.containers[\u0660].name=x", "."],
                environ={"PATH": "/usr/bin:/bin"})
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "--set" in line
    assert (root / "deployment.yaml").read_text() == DEPLOYMENT


# --------------------------------------------------------------------------- promote


PROMOTE_BAD = [b for b in BAD if b[1] in {
    "Cyrillic е in the tag", "full-width digit in the tag", "Arabic-Indic digits in the tag",
    "Cyrillic а in the host", "ü in the path", "trailing newline", "uppercase path",
    "129-character tag", "empty tag", "empty path component", "full-width digit in the port"}]


@pytest.mark.parametrize("text, why", PROMOTE_BAD, ids=[why for _, why in PROMOTE_BAD])
def test_promote_refuses_bad_image_and_pushes_nothing(tmp_path, capsys, text, why):
    remote = example_remote(tmp_path)
    refs = git(remote, "for-each-ref")
    code = main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", text], environ=ENV)
    line = _one_line(capsys.readouterr().err)
    assert code == 2
    assert "--image" in line and ascii(text[:60])[1:-1] in line
    assert git(remote, "for-each-ref") == refs
    assert git(remote, "log", "--format=%s", "main").splitlines() == ["seed"]


def test_promote_from_environment_refuses_homoglyph_repository(tmp_path, capsys):
    remote = example_remote(tmp_path)
    refs = git(remote, "for-each-ref")
    code = main(["promote", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--from-environment", "staging",
                 "--image", "registry.example.com/ml/\u0441hurn"], environ=ENV)
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "U+0441" in line
    assert git(remote, "for-each-ref") == refs


# --------------------------------------------------------------------------- scan, mlgate.yaml


def test_scan_refuses_homoglyph_image_before_running_trivy(tmp_path, capsys):
    marker = tmp_path / "trivy-ran"
    trivy = tmp_path / "trivy"
    trivy.write_text(f"#!/bin/sh\ntouch {marker}\necho 'Version: 0.60.0'\n")
    trivy.chmod(trivy.stat().st_mode | stat.S_IEXEC)
    code = main(["scan", "--image", f"{IMG}:v1.5.0-r\u0435lease", "--trivy", str(trivy)],
                environ={"PATH": "/usr/bin:/bin"})
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "--image" in line and "U+0435" in line
    assert not marker.exists()


def test_scan_timeout_takes_ascii_digits_only():
    from mlgate.scan.run import parse_timeout

    assert parse_timeout("90s") == 90
    for text in ("\u0669\u0660s", "\uff19\uff10s", "90s\n5"):
        with pytest.raises(BadInput):
            parse_timeout(text)


def test_mlgate_yaml_image_goes_through_the_grammar():
    from mlgate.pipeline.run import _repository

    assert _repository(f"registry.example.com:5000/ml/churn:v1@{DIGEST}") == \
        "registry.example.com:5000/ml/churn"
    with pytest.raises(BadInput, match="mlgate.yaml image"):
        _repository(f"registry.example.com/ml/ch\u00fcrn:v1")


# --------------------------------------------------------------------------- properties

ALNUM = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
SEPARATOR = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def path_components(draw) -> str:
    parts = [draw(ALNUM)]
    for _ in range(draw(st.integers(0, 2))):
        parts += [draw(SEPARATOR), draw(ALNUM)]
    return "".join(parts)


DOMAIN_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
DOMAINS = st.one_of(
    st.lists(DOMAIN_LABEL, min_size=2, max_size=3).map(".".join),
    st.just("localhost"),
    st.from_regex(r"\[[a-fA-F0-9:]{0,6}:[a-fA-F0-9:]{0,6}\]", fullmatch=True),
)
PORTS = st.one_of(st.just(""), st.integers(0, 99999).map(lambda p: f":{p}"))
TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True)
DIGESTS = st.one_of(st.text(HEX, min_size=64, max_size=64).map(lambda h: f"sha256:{h}"),
                    st.text(HEX, min_size=128, max_size=128).map(lambda h: f"sha512:{h}"))


@st.composite
def references(draw) -> str:
    """A reference built from the ASCII grammar's alphabet, part by part."""
    path = "/".join(draw(st.lists(path_components(), min_size=1, max_size=3)))
    domain = draw(st.one_of(st.none(), st.builds(str.__add__, DOMAINS, PORTS)))
    name = f"{domain}/{path}" if domain else path
    # without a host, a first component with a dot is read as a host (Docker's rule)
    assume(domain is not None or split_name(name)[0] is None)
    assume(len(normalize_name(name)) <= 255)
    text = name
    if draw(st.booleans()):
        text += ":" + draw(TAGS)
    if draw(st.booleans()):
        text += "@" + draw(DIGESTS)
    assume(not re.fullmatch(r"[a-f0-9]{64}", text))
    return text


@settings(max_examples=400, deadline=None)
@given(references())
def test_grammar_references_parse_and_round_trip(text):
    ref = parse_reference(text)
    assert str(ref) == text
    assert ref.repository == normalize_name(ref.name)


NON_ASCII = st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=("Cs",))


@settings(max_examples=400, deadline=None)
@example(f"{IMG}:v1.5.0-release", 33, "\u0435")
@example(f"{IMG}:v1.5.0", 27, "\u0661")
@given(references(), st.integers(0, 300), NON_ASCII)
def test_any_non_ascii_character_is_refused(text, position, char):
    position %= len(text) + 1
    with pytest.raises(InvalidReference, match="non-ASCII"):
        parse_reference(text[:position] + char + text[position:])


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda s: not s.isascii()))
def test_any_text_with_non_ascii_is_refused(text):
    with pytest.raises(InvalidReference):
        parse_reference(text)


# An independent transcription of distribution/reference (regexp.go, normalize.go) and the
# go-digest check its Parse applies, written from the Go source rather than from reference.py:
# Go's \w and [[:xdigit:]] are ASCII, hence re.ASCII. Two deliberate differences, both
# documented in reference.py: only the OCI image spec's sha256 and sha512 digests, and the host
# is the one splitDockerDomain picks (Parse would re-read an invalid host such as "a_b.c" as a
# path component, which containerd and the kubelet would send to a host that cannot exist).
_GO_ALNUM = r"[a-z0-9]+"
_GO_SEP = r"(?:[._]|__|[-]+)"
_GO_PATH_COMPONENT = _GO_ALNUM + r"(?:" + _GO_SEP + _GO_ALNUM + r")*"
_GO_REMOTE = _GO_PATH_COMPONENT + r"(?:/" + _GO_PATH_COMPONENT + r")*"
_GO_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_GO_HOST = (r"(?:" + _GO_DOMAIN_COMPONENT + r"(?:\." + _GO_DOMAIN_COMPONENT + r")*"
            + r"|\[(?:[a-fA-F0-9:]+)\])")
_GO_DOMAIN = _GO_HOST + r"(?::[0-9]+)?"
_GO_TAG = r"[\w][\w.-]{0,127}"
_GO_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_GO_REST = re.compile(r"(" + _GO_REMOTE + r")(?::(" + _GO_TAG + r"))?(?:@(" + _GO_DIGEST + r"))?",
                      re.ASCII)
_GO_DOMAIN_RE = re.compile(_GO_DOMAIN, re.ASCII)


def docker_accepts(s: str) -> bool:
    if re.fullmatch(r"[a-f0-9]{64}", s, re.ASCII):
        return False
    first, sep, rest = s.partition("/")
    if not sep:
        domain, remainder = "docker.io", "library/" + s
    elif first in ("localhost", "index.docker.io") or any(c in first for c in ".:") \
            or first.lower() != first:
        domain, remainder = first, rest
    else:
        domain, remainder = "docker.io", s
    if remainder.split(":", 1)[0].lower() != remainder.split(":", 1)[0]:
        return False
    m = _GO_REST.fullmatch(remainder)
    if not m or not _GO_DOMAIN_RE.fullmatch(domain):
        return False
    if len(domain) + 1 + len(m.group(1)) > 255:
        return False
    digest = m.group(3)
    return digest is None or re.fullmatch(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}", digest,
                                          re.ASCII) is not None


def accepts(s: str) -> bool:
    try:
        parse_reference(s)
    except InvalidReference:
        return False
    return True


NEAR = "abcxyzABZ0129_.-:/@[]%\n \u0435\u0661\uff11"


@st.composite
def mutated(draw) -> str:
    text = draw(references())
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        c = draw(st.sampled_from(NEAR))
        if op == "insert":
            text = text[:i] + c + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1:]
        else:
            text = text[:i] + c + text[i + 1:]
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@example("a_b.c/d:1")
@example("Foo/bar:1")
@example("localhost:5000")
@example("[::1]:5000/a")
@example("a/b:" + "c" * 128)
@example("a/b:" + "c" * 129)
@given(st.one_of(references(), mutated(), st.text(NEAR, max_size=30)))
def test_parser_agrees_with_docker_grammar(text):
    assert accepts(text) == docker_accepts(text), text
