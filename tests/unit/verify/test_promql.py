"""Filling a check's query: a label value from a pipeline's input can never leave the string
literal it was put in, whatever characters it holds.

The tests read the filled query the way Prometheus' lexer does (promql/parser/lex.go:
`"` and `'` strings with Go escapes, ending in error at a raw newline; raw `` ` `` strings
without escapes; `#` comments to the end of the line), so "still one string literal" is
checked on the query's structure, with no server to ask.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlgate.errors import BadInput
from mlgate.verify.check import BUILTIN_QUERIES
from mlgate.verify.promql import LABELS, duration, escape, fill

LABELS_ALL = {"app": "churn", "environment": "staging", "namespace": "ml",
              "model_version": "7"}


class LexError(Exception):
    pass


_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\"}
_HEX = {"x": 2, "u": 4, "U": 8}


def _escape_at(text: str, j: int, quote: str) -> tuple[str, int]:
    """One escape after a backslash, as Go's lexer takes it: (the character, where next)."""
    if j >= len(text):
        raise LexError("escape at the end")
    c = text[j]
    if c in _SIMPLE:
        return _SIMPLE[c], j + 1
    if c == quote:
        return c, j + 1
    if c in "01234567":
        digits = text[j:j + 3]
        if not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
            raise LexError(f"bad octal escape {digits!r}")
        return chr(int(digits, 8)), j + 3
    if c in _HEX:
        digits = text[j + 1:j + 1 + _HEX[c]]
        if not re.fullmatch(r"[0-9a-fA-F]{%d}" % _HEX[c], digits):
            raise LexError(f"bad hex escape {digits!r}")
        code = int(digits, 16)
        if c != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
            raise LexError("escape is an invalid Unicode code point")
        return chr(code), j + 1 + _HEX[c]
    raise LexError(f"unknown escape \\{c}")


def literals(query: str) -> list[tuple[str, str]]:
    """The string literals of a query as (quote, value), read as Prometheus' lexer does."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch == "#":
            end = query.find("\n", i)
            i = len(query) if end < 0 else end
        elif ch in "\"'":
            j, value = i + 1, []
            while True:
                if j >= len(query) or query[j] == "\n":
                    raise LexError("unterminated quoted string")
                if query[j] == ch:
                    break
                if query[j] == "\\":
                    c, j = _escape_at(query, j + 1, ch)
                    value.append(c)
                else:
                    value.append(query[j])
                    j += 1
            out.append((ch, "".join(value)))
            i = j + 1
        elif ch == "`":
            end = query.find("`", i + 1)
            if end < 0:
                raise LexError("unterminated raw string")
            out.append(("`", query[i + 1:end]))
            i = end + 1
        else:
            i += 1
    return out


def outside(query: str) -> str:
    """The query with every string literal taken out: the part PromQL reads as code."""
    return re.sub(r'"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'|`[^`]*`', "S", query)


def test_the_lexer_of_these_tests_reads_promql_strings_as_prometheus_does():
    assert literals(r'up{a="x\"y",b=' + "'q\\'r'" + r',c=~`\d+`}') == [
        ('"', 'x"y'), ("'", "q'r"), ("`", r"\d+")]
    assert literals(r'"\x41\101\u00e9\U0001F600\a\b\f\n\r\t\v\\"') == [
        ('"', "AA\u00e9\U0001F600\a\b\f\n\r\t\v\\")]
    assert literals('up # "not a string\n+ "s"') == [('"', "s")]
    for bad in ['"a\nb"', '"abc', "'a", "`a", r'"\q"', r'"\x4"', r'"\777"', r'"\ud800"',
                r'"\'"', '"\\']:
        with pytest.raises(LexError):
            literals(bad)


# -- escape -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, escaped", [
    ("churn", "churn"),
    ('a"b', 'a\\"b'),
    ("a\\b", "a\\\\b"),
    ("\\", "\\\\"),
    ('\\"', '\\\\\\"'),
    ("a\nb", "a\\nb"),
    ("a\rb", "a\\rb"),
    ("a\tb", "a\\tb"),
    ("\x00", "\\x00"),
    ("\x01\x1b\x1f", "\\x01\\x1b\\x1f"),
    ("\x7f", "\\x7f"),
    (" ", " "),
    ("'`#{}", "'`#{}"),                # not special between double quotes
    ("\x80\u2028\u00e9\U0001F600", "\x80\u2028\u00e9\U0001F600"),
    ("", ""),
])
def test_escape_follows_gos_string_literal_rules(value, escaped):
    assert escape(value) == escaped
    assert literals(f'"{escape(value)}"') == [('"', value)]


@settings(max_examples=400)
@given(st.text(st.sampled_from('"\\\n\r\t\x00\x1f\x7f\'`#{}ab\u2028') | st.characters()))
@example('"} or vector(1) #')
@example("\\\"\n")
def test_unescaping_what_escape_gives_is_the_input(value):
    text = escape(value)
    assert "\n" not in text and "\r" not in text
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)
    assert literals(f'"{text}"') == [('"', value)]


# -- duration -----------------------------------------------------------------------------

@pytest.mark.parametrize("seconds, text", [
    (30, "30s"), (30.0, "30s"), (1, "1s"), (120, "120s"), (86400, "86400s"),
    (0.5, "500ms"), (1.5, "1500ms"), (0.001, "1ms"), (0.0015, "2ms"),
    (59.9999, "60s"),                  # rounded to the millisecond first
    (1.0004, "1s"),
    (0, "1ms"), (0.0004, "1ms"), (1e-9, "1ms"), (-5, "1ms"),   # never an empty range
])
def test_duration_is_whole_seconds_else_milliseconds(seconds, text):
    assert duration(seconds) == text
    assert re.fullmatch(r"[1-9][0-9]*(s|ms)", text)


# -- fill ---------------------------------------------------------------------------------

def test_the_builtin_error_rate_query_is_filled_in_its_strings_and_range():
    query = fill(BUILTIN_QUERIES["error-rate"], LABELS_ALL, 30, "error-rate")
    assert query == ('sum(rate(http_requests_total{namespace="ml",app="churn",code=~"5.."}[30s]))'
                     ' / sum(rate(http_requests_total{namespace="ml",app="churn"}[30s]))')


@pytest.mark.parametrize("name", ["error-rate", "p95-latency", "accuracy", "drift"])
def test_every_builtin_prometheus_query_fills_with_labels_only_inside_strings(name):
    hostile = {k: 'x"}) or vector(1) #\n\\' for k in LABELS}
    query = fill(BUILTIN_QUERIES[name], hostile, 45, name)
    template = literals(BUILTIN_QUERIES[name])
    assert len(literals(query)) == len(template)
    assert ("\"", hostile["app"]) in literals(query)
    assert "or vector" not in outside(query)
    assert "{app}" not in query and "{namespace}" not in query and "{window}" not in query


def test_window_stands_anywhere_and_is_written_as_a_duration():
    assert fill("rate(x[{window}]) + {window}", {}, 90, "q") == "rate(x[90s]) + 90s"
    assert fill("rate(x[{window}])", {}, 0.25, "q") == "rate(x[250ms])"
    assert fill('x{a="{window}"}', {}, 5, "q") == 'x{a="5s"}'
    assert fill("x{a=`{window}`}", {}, 5, "q") == "x{a=`5s`}"


def test_every_label_placeholder_is_filled_inside_double_quotes():
    query = fill('x{a="{app}",e="{environment}",n="{namespace}",v="{model_version}"}',
                 LABELS_ALL, 30, "q")
    assert query == 'x{a="churn",e="staging",n="ml",v="7"}'


def test_a_query_without_placeholders_is_returned_as_it_is():
    for text in ["up", "", 'up{a="b\\"c"}', "x{a=~`\\d`}", "sum by (le) (x)", "{ap}", "{APP}",
                 "{ app }", "{window"]:
        assert fill(text, {}, 30, "q") == text


@pytest.mark.parametrize("template", [
    "up{app={app}}",                     # a bare value
    "{app}",
    "up{app='{app}'}",                   # single quotes: escape() does not escape '
    "up{app=`{app}`}",                   # a raw string: no escapes at all
    'up{a="x"} or {app}',
    'up{a="\\"",b={app}}',               # the escaped quote does not end the string
    '"{namespace}" + {namespace}',
])
@pytest.mark.parametrize("key", ["app", "namespace", "environment", "model_version"])
def test_a_label_placeholder_outside_a_double_quoted_string_is_refused(template, key):
    template = template.replace("{app}", "{%s}" % key).replace("{namespace}", "{%s}" % key)
    with pytest.raises(BadInput) as raised:
        fill(template, LABELS_ALL, 30, "--check 'gpu'")
    message = str(raised.value)
    assert message.startswith("--check 'gpu': {%s} must stand inside a double-quoted string" % key)
    assert f'(e.g. {key}="{{{key}}}")' in message
    assert "\n" not in message


def test_a_raw_string_ending_in_a_backslash_is_closed_by_its_backtick():
    # `\` has no escapes: the backtick ends the string and the next "..." is a string of its own
    assert fill('x{a=~`\\`,b="{app}"}', LABELS_ALL, 30, "q") == 'x{a=~`\\`,b="churn"}'
    with pytest.raises(BadInput, match="must stand inside"):
        fill("x{a=~`\\`,b={app}}", LABELS_ALL, 30, "q")


def test_no_letter_outside_a_string_opens_one():
    assert fill('X_total{a="{app}"} or XY{b="{app}"}', LABELS_ALL, 30, "q") == (
        'X_total{a="churn"} or XY{b="churn"}')


def test_an_escaped_quote_in_a_string_does_not_end_it():
    assert fill('x{a="\\"{app}"}', LABELS_ALL, 30, "q") == 'x{a="\\"churn"}'
    assert fill("x{a='\\'',b=\"{app}\"}", LABELS_ALL, 30, "q") == "x{a='\\'',b=\"churn\"}"
    assert fill('x{a="\\\\",b="{app}"}', LABELS_ALL, 30, "q") == 'x{a="\\\\",b="churn"}'


def test_a_quote_of_the_other_kind_does_not_end_a_string():
    assert fill("x{a=\"'\",b=\"{app}\"}", LABELS_ALL, 30, "q") == "x{a=\"'\",b=\"churn\"}"
    with pytest.raises(BadInput, match="must stand inside"):
        fill("x{a='\"{app}\"'}", LABELS_ALL, 30, "q")


@pytest.mark.parametrize("labels", [{}, {"app": ""}, {"app": None}, {"namespace": "ml"}])
def test_a_placeholder_without_a_value_is_refused_naming_the_option(labels):
    with pytest.raises(BadInput) as raised:
        fill('x{a="{app}"}', labels, 30, "--check 'c'")
    assert str(raised.value) == ("--check 'c': the query uses {app} but no value is given "
                                 "(--app)")


def test_a_missing_model_version_names_its_option_with_a_dash():
    with pytest.raises(BadInput) as raised:
        fill('x{v="{model_version}"}', {"app": "a"}, 30, "q")
    assert str(raised.value).endswith("(--model-version)")


def test_an_unused_label_needs_no_value():
    assert fill('x{a="{app}"}', {"app": "a"}, 30, "q") == 'x{a="a"}'


@pytest.mark.parametrize("template", ["up # a comment", "up#", '"a" # {app}',
                                      'up\n# "{app}"\n'])
def test_a_comment_is_refused(template):
    # a comment would hide a quote from this reading while Prometheus skips it: what looks
    # inside a string here would stand outside one there
    with pytest.raises(BadInput) as raised:
        fill(template, LABELS_ALL, 30, "q")
    assert str(raised.value) == "q: the query holds a comment (#); write it without one"


def test_a_hash_inside_a_string_is_text():
    assert fill('x{a="#",b=\'#\',c=`#`,d="{app}"}', LABELS_ALL, 30, "q") == (
        'x{a="#",b=\'#\',c=`#`,d="churn"}')


@pytest.mark.parametrize("template", ['up{a="x}', "up{a='x}", "up{a=`x}", 'up{a="x\\',
                                      'up{a="x\\"}', '"', "'", "`", '"{app}'])
def test_an_unterminated_string_is_refused(template):
    with pytest.raises(BadInput) as raised:
        fill(template, LABELS_ALL, 30, "q")
    assert str(raised.value) == "q: the query has an unterminated string"


HOSTILE_VALUES = ['"} or vector(1) #', 'a"b', "a\\b", "\\", '\\"', "a\nb", "a\r\nb", "\t",
                  "\x00", "\x1b[31m", "\x7f", "'", "`", "{app}", "{window}", "#", "}",
                  '"', '\\\\"} or up{x="', "\u2028", "\U0001F600"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_hostile_value_stays_one_string_literal(value):
    template = 'sum(rate(x{app="{app}",ns="{namespace}"}[{window}])) > 0'
    query = fill(template, {"app": value, "namespace": "ml"}, 30, "q")
    assert literals(query) == [('"', value), ('"', "ml")]
    assert outside(query) == "sum(rate(x{app=S,ns=S}[30s])) > 0"


def test_a_value_is_not_filled_twice():
    # a value that looks like a placeholder is text: the template is read once
    query = fill('x{a="{app}",b="{namespace}"}', {"app": "{namespace}", "namespace": "n"}, 30,
                 "q")
    assert query == 'x{a="{namespace}",b="n"}'


@pytest.mark.parametrize("value", ["a\udcffb", "\ud800", "\udfff"])
def test_a_value_that_was_not_utf8_is_refused(value):
    # argv decodes bytes that are not UTF-8 to lone surrogates; they have no PromQL form and
    # would stop the request being encoded (a crash instead of exit 2)
    with pytest.raises(BadInput) as raised:
        fill('x{a="{app}"}', {"app": value}, 30, "q")
    assert str(raised.value) == ("q: the value of --app is not valid UTF-8 (it cannot be sent "
                                 "to Prometheus)")
    with pytest.raises(BadInput, match="--model-version is not valid UTF-8"):
        fill('x{a="{model_version}"}', {"model_version": value}, 30, "q")


def test_a_query_that_was_not_utf8_is_refused():
    with pytest.raises(BadInput) as raised:
        fill('x{a="\udc80"}', {}, 30, "q")
    assert str(raised.value) == "q: the query is not valid UTF-8 (it cannot be sent to Prometheus)"
    assert fill('x{a="\ue000\uffff"}', {}, 30, "q") == 'x{a="\ue000\uffff"}'


# -- property: the literals of the filled query are the template's -----------------------

_PLAIN = st.text(st.sampled_from("abz09 _.:-=~,()[]+*/<>!|&^%$@;?"), max_size=6)
_IN_DOUBLE = st.one_of(
    st.text(st.sampled_from("ab09 ()[]{},'`#=~.*+?|^$"), max_size=5),
    st.sampled_from(['\\"', "\\\\", "\\n", "\\t", "\\x41", "\\u00e9", "\\101"]),
    st.sampled_from(["{app}", "{environment}", "{namespace}", "{model_version}",
                     "{window}"]),
)
_IN_SINGLE = st.one_of(st.text(st.sampled_from('ab09 "`#(){},=.'), max_size=5),
                       st.sampled_from(["\\'", "\\\\", "\\n", "{window}"]))
_IN_RAW = st.one_of(st.text(st.sampled_from('ab09 "\'\\#(){},=.\n'), max_size=5),
                    st.just("{window}"))
_PART = st.one_of(
    _PLAIN,
    st.just("{window}"),
    st.lists(_IN_DOUBLE, max_size=5).map(lambda xs: '"' + "".join(xs) + '"'),
    st.lists(_IN_SINGLE, max_size=4).map(lambda xs: "'" + "".join(xs) + "'"),
    st.lists(_IN_RAW, max_size=4).map(lambda xs: "`" + "".join(xs) + "`"),
)
_VALUE = st.text(st.sampled_from('"\\\n\r\t\x00\x7f\'`#{}ab') |
                 st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
_PLACEHOLDERS = re.compile(r"\{(app|environment|namespace|model_version|window)\}")


@settings(max_examples=500)
@given(parts=st.lists(_PART, max_size=8),
       labels=st.fixed_dictionaries({k: _VALUE for k in LABELS}),
       window=st.sampled_from([1, 30, 0.5, 300]))
@example(parts=['x{a="{app}"}'], labels={k: '"} or vector(1) #' for k in LABELS}, window=30)
def test_fill_keeps_every_string_literal_of_the_template(parts, labels, window):
    template = "".join(parts)
    query = fill(template, labels, window, "q")
    before, after = literals(template), literals(query)
    assert len(after) == len(before)
    for (quote, old), (new_quote, new) in zip(before, after, strict=True):
        assert new_quote == quote
        expected = _PLACEHOLDERS.sub(
            lambda m: duration(window) if m[1] == "window" else labels[m[1]], old)
        assert new == expected
    assert outside(query) == outside(template).replace("{window}", duration(window))


def test_a_canarys_placeholders_are_escaped_labels_known_only_in_a_canary():
    labels = {"canary": 'v1"}', "revision": "churn-predictor-00002"}
    query = 'rate(x{revision_name="{revision}",tag="{canary}"}[{window}])'
    assert fill(query, labels, 30, "--check x") == (
        'rate(x{revision_name="churn-predictor-00002",tag="v1\\"}"}[30s])')
    with pytest.raises(BadInput, match=r"\{canary\} but no value is given \(only in mlgate "
                                       r"canary\)"):
        fill('x{tag="{canary}"}', {}, 30, "--check x")
    with pytest.raises(BadInput, match="must stand inside a double-quoted"):
        fill("x{tag=~{revision}}", labels, 30, "--check x")
