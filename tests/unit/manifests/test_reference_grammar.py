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
    ("registry.ex\u0430mple.com/ml/churn:v1.5.0", "Cyrillic а in the host"),
    ("registry.example.com:\uff15000/ml/churn:v1.5.0", "full-width digit in the port"),
    ("registry.example.com:5\u0660/ml/churn:v1.5.0", "Arabic-Indic digit in the port"),
    ("registry.example.com/ml/ch\u00fcrn:v1.5.0", "ü in the path"),
    ("registry.example.com/ml/\u0441hurn:v1.5.0", "Cyrillic с in the path"),
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
        _repository("registry.example.com/ml/ch\u00fcrn:v1")


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


# --------------------------------------------------------------------------- what a parse yields
# A promotion finds an image by its normalised repository and writes back the name as the
# manifest spelled it: each part of a parse is something a user sees (or a rewrite misses).

H64 = "0123456789abcdef" * 4
PARTS = [
    # text, name as written, normalised repository, tag, digest, short name
    ("nginx", "nginx", "docker.io/library/nginx", None, None, "nginx"),
    ("nginx:1.27", "nginx", "docker.io/library/nginx", "1.27", None, "nginx"),
    ("library/nginx", "library/nginx", "docker.io/library/nginx", None, None, "nginx"),
    ("docker.io/nginx", "docker.io/nginx", "docker.io/library/nginx", None, None, "nginx"),
    ("index.docker.io/library/nginx:1", "index.docker.io/library/nginx",
     "docker.io/library/nginx", "1", None, "nginx"),
    ("registry-1.docker.io/bitnami/redis", "registry-1.docker.io/bitnami/redis",
     "docker.io/bitnami/redis", None, None, "redis"),
    ("bitnami/redis:7", "bitnami/redis", "docker.io/bitnami/redis", "7", None, "redis"),
    ("localhost/churn:v1", "localhost/churn", "localhost/churn", "v1", None, "churn"),
    ("localhost:5000/ml/churn:v1", "localhost:5000/ml/churn", "localhost:5000/ml/churn", "v1",
     None, "churn"),
    ("localhost:5000", "localhost", "docker.io/library/localhost", "5000", None, "localhost"),
    ("Registry.Example.COM/ml/churn:V1_x", "Registry.Example.COM/ml/churn",
     "registry.example.com/ml/churn", "V1_x", None, "churn"),
    ("Foo/bar:1", "Foo/bar", "foo/bar", "1", None, "bar"),
    ("[::1]:5000/ml/churn", "[::1]:5000/ml/churn", "[::1]:5000/ml/churn", None, None, "churn"),
    (f"{IMG}@sha256:{H64}", IMG, IMG, None, f"sha256:{H64}", "churn"),
    (f"{IMG}:v1.5.0@sha256:{H64}", IMG, IMG, "v1.5.0", f"sha256:{H64}", "churn"),
    (f"{H64}:v1", H64, f"docker.io/library/{H64}", "v1", None, H64),
]


@pytest.mark.parametrize("text, name, repository, tag, digest, short", PARTS,
                         ids=[p[0][:40] for p in PARTS])
def test_a_reference_parses_into_its_parts(text, name, repository, tag, digest, short):
    ref = parse_reference(text)
    assert (ref.name, ref.repository, ref.tag, ref.digest) == (name, repository, tag, digest)
    assert ref.short_name == short
    assert ref.version == text[len(name):]
    assert str(ref) == text


@pytest.mark.parametrize("name, domain, path", [
    ("nginx", None, "nginx"),
    ("a.b", None, "a.b"),                      # a dot without a slash is not a host
    ("ml/churn", None, "ml/churn"),
    ("a.b/c", "a.b", "c"),
    ("host:5000/c/d", "host:5000", "c/d"),
    ("localhost/c", "localhost", "c"),
    ("Foo/c", "Foo", "c"),                     # an uppercase first component is a host
    ("localhostx/c", None, "localhostx/c"),
])
def test_split_name_picks_the_host_the_way_docker_does(name, domain, path):
    assert split_name(name) == (domain, path)


def test_every_spelling_of_docker_hub_is_one_repository():
    spellings = ["nginx", "library/nginx", "docker.io/nginx", "docker.io/library/nginx",
                 "index.docker.io/library/nginx", "registry-1.docker.io/library/nginx"]
    assert {normalize_name(s) for s in spellings} == {"docker.io/library/nginx"}
    assert normalize_name("docker.io/team/model") == "docker.io/team/model"
    assert normalize_name("Quay.IO/team/model") == "quay.io/team/model"
    assert normalize_name("localhost/model") == "localhost/model"


# the 255-character limit is on the normalised name: "docker.io/library/" counts for a bare one
@pytest.mark.parametrize("name, ok", [
    ("r.io/" + "a" * 250, True), ("r.io/" + "a" * 251, False),
    ("a" * 237, True), ("a" * 238, False),
])
def test_repository_name_limit_is_255_characters_normalised(name, ok):
    if ok:
        assert parse_reference(name + ":v1").name == name
    else:
        with pytest.raises(InvalidReference) as info:
            parse_reference(name + ":v1")
        assert str(info.value) == "the repository name is longer than 255 characters"


def test_manifest_values_longer_than_512_characters_are_not_references():
    from mlgate.manifests.reference import try_parse_reference

    suffix = ":" + "t" * 128 + "@sha512:" + "d" * 128          # 265 characters
    at_limit = "r.io/" + "a" * (512 - 265 - 5) + suffix
    assert len(at_limit) == 512
    assert try_parse_reference(at_limit) == parse_reference(at_limit)
    over = "r.io/" + "a" * (513 - 265 - 5) + suffix
    assert len(over) == 513 and parse_reference(over).tag == "t" * 128  # valid, yet too long
    assert try_parse_reference(over) is None
    assert try_parse_reference("") is None
    assert try_parse_reference("{{ .Values.image }}") is None
    assert try_parse_reference("nginx") == parse_reference("nginx")


# ------------------------------------------------------------------- the messages a user reads

MESSAGES = [
    ("", "the image reference is empty"),
    (":v1", "the repository name is empty"),
    ("r.io/:v1", "the repository path is empty"),
    ("a_b.c/d:1", "invalid registry 'a_b.c': a host name (letters, digits, '-', '.'), or an IPv6 "
                  "address in brackets, with an optional :port"),
    ("r.io/ml/Churn:1", "invalid repository path component 'Churn' in 'ml/Churn': lowercase "
                        "letters and digits, separated by '.', '_', '__' or dashes"),
    (f"{IMG}:.v1", "invalid tag '.v1': a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -"),
    (f"{IMG}:-v1", "invalid tag '-v1': a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -"),
    (f"{IMG}:" + "." * 40, "invalid tag '" + "." * 40 + "': a tag is 1-128 of [A-Za-z0-9_.-], "
                           "not starting with . or -"),
    (f"{IMG}:" + "." * 41, "invalid tag '" + "." * 40 + "…': a tag is 1-128 of [A-Za-z0-9_.-], "
                           "not starting with . or -"),
    (f"{IMG}@sha256:{H64}junk", f"invalid digest 'sha256:{H64}junk': expected ALGORITHM:HEX, "
                                "e.g. sha256: and 64 lowercase hex digits"),
    (f"{IMG}@sha256:{H64.upper()}", f"invalid digest 'sha256:{H64.upper()}': expected sha256: "
                                    "and 64 or sha512: and 128 lowercase hex digits"),
    (f"{IMG}@sha256:{H64}0", f"invalid digest 'sha256:{H64}0': expected sha256: and 64 or "
                             "sha512: and 128 lowercase hex digits"),
    (f"{IMG}@md5:" + "c" * 32, "invalid digest 'md5:" + "c" * 32 + "': expected sha256: and 64 "
                               "or sha512: and 128 lowercase hex digits"),
    (f"{IMG}@sha256:" + "C" * 100, "invalid digest 'sha256:" + "C" * 73 + "': expected sha256: "
                                   "and 64 or sha512: and 128 lowercase hex digits"),
    (f"{IMG}@sha256:{H64}@sha256:{H64}", f"invalid digest 'sha256:{H64}@sha256:{H64[:1]}': "
                                         "expected ALGORITHM:HEX, e.g. sha256: and 64 lowercase "
                                         "hex digits"),
    (H64, "a 64-digit hexadecimal string is an image ID, not a repository name"),
    ("ng\u0435nx", "non-ASCII character U+0435 at position 2: image references are ASCII only"),
    ("nginx:1 ", "whitespace or control character U+0020 at position 7 is not allowed in an "
                 "image reference"),
    ("nginx\x00", "whitespace or control character U+0000 at position 5 is not allowed in an "
                  "image reference"),
    ("\nnginx", "whitespace or control character U+000A at position 0 is not allowed in an "
                "image reference"),
]


@pytest.mark.parametrize("text, message", MESSAGES, ids=[m[:40] for _, m in MESSAGES])
def test_a_bad_reference_says_exactly_what_is_wrong(text, message):
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    assert str(info.value) == message


def test_something_other_than_text_is_an_empty_reference():
    with pytest.raises(InvalidReference, match="^the image reference is empty$"):
        parse_reference(None)


def test_user_reference_names_the_input_and_asks_for_a_version():
    with pytest.raises(BadInput) as info:
        parse_user_reference("nginx", "--image")
    assert str(info.value) == ("--image 'nginx': give a tag, a digest or both "
                               "(repo:tag@sha256:…)")
    assert parse_user_reference("nginx", "--image", need_version=False).tag is None
    assert parse_user_reference("nginx:1", "--image").tag == "1"
    assert parse_user_reference(f"nginx@sha256:{H64}", "--image").digest == f"sha256:{H64}"
    with pytest.raises(BadInput) as info:
        parse_user_reference("r.io/Ml", "--db-repository", need_version=False)
    assert str(info.value) == ("--db-repository 'r.io/Ml': invalid repository path component "
                               "'Ml' in 'Ml': lowercase letters and digits, separated by '.', "
                               "'_', '__' or dashes")


@pytest.mark.parametrize("length, shown", [(120, "A" * 120), (121, "A" * 120 + "\\u2026")])
def test_a_long_bad_input_is_shown_cut_at_120_characters(length, shown):
    with pytest.raises(BadInput) as info:
        parse_user_reference("A" * length, "--image")
    assert str(info.value).startswith(f"--image '{shown}': invalid repository path component")
