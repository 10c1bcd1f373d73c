"""A check parsed from a SPEC: a query and a range (Flagger's thresholdRange: min and max,
never an expression to evaluate), the built-ins with mlgate's metric names, and every way a
SPEC taken from a pull request can be wrong refused with one line naming it (exit 2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlgate.errors import BadInput
from mlgate.verify.check import (
    parse_queries,
    BUILTIN_QUERIES,
    DEFAULT_ACTION,
    DEFAULT_RANGE,
    UNITS,
    Check,
    _next_key,
    number,
    parse_check,
)

KEYS = "max, max-drop, min, name, on-failure, query"


def refused(spec: str, queries: dict[str, str] | None = None) -> str:
    with pytest.raises(BadInput) as raised:
        parse_check(spec, queries)
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    return message


# -- the built-ins ------------------------------------------------------------------------

def test_the_builtin_names_units_and_defaults():
    assert list(BUILTIN_QUERIES) == ["error-rate", "p95-latency", "accuracy", "drift",
                                     "replicas-unavailable"]
    assert UNITS == {"p95-latency": "seconds", "error-rate": "ratio"}
    assert DEFAULT_ACTION == {"drift": "retrain"}
    assert DEFAULT_RANGE == {"drift": (None, 0.5)}
    assert BUILTIN_QUERIES["accuracy"] == (
        'max(mlgate_model_accuracy{namespace="{namespace}",app="{app}"})')
    assert BUILTIN_QUERIES["drift"] == (
        'max(mlgate_model_drift_score{namespace="{namespace}",app="{app}"})')
    assert BUILTIN_QUERIES["p95-latency"] == (
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket'
        '{namespace="{namespace}",app="{app}"}[{window}])))')
    assert BUILTIN_QUERIES["error-rate"] == (
        'sum(rate(http_requests_total{namespace="{namespace}",app="{app}",code=~"5.."}'
        '[{window}])) / sum(rate(http_requests_total{namespace="{namespace}",app="{app}"}'
        '[{window}]))')
    assert BUILTIN_QUERIES["replicas-unavailable"] == "kube: deployment {namespace}/{app}"


def test_error_rate_with_a_percent_limit():
    assert parse_check("error-rate:max=1%") == Check(
        name="error-rate", query=BUILTIN_QUERIES["error-rate"], min=None, max=0.01,
        max_drop=None, drop_relative=True, unit="ratio", on_failure="rollback", builtin=True)


@pytest.mark.parametrize("limit, seconds", [("500ms", 0.5), ("2s", 2.0), ("0.25", 0.25),
                                            ("1.5s", 1.5), ("1e3ms", 1.0), ("50%", 0.5)])
def test_p95_latency_takes_seconds_or_milliseconds(limit, seconds):
    check = parse_check(f"p95-latency:max={limit}")
    assert check == Check(name="p95-latency", query=BUILTIN_QUERIES["p95-latency"],
                          max=seconds, unit="seconds", builtin=True)


def test_accuracy_max_drop_in_percent_is_relative():
    assert parse_check("accuracy:max-drop=5%") == Check(
        name="accuracy", query=BUILTIN_QUERIES["accuracy"], min=None, max=None, max_drop=0.05,
        drop_relative=True, unit="", on_failure="rollback", builtin=True)


def test_accuracy_max_drop_as_a_number_is_absolute():
    check = parse_check("accuracy:max-drop=0.02")
    assert (check.max_drop, check.drop_relative, check.min, check.max) == (0.02, False, None,
                                                                             None)
    assert parse_check("accuracy:max-drop=1.5").max_drop == 1.5   # absolute: no 100% bound


@pytest.mark.parametrize("drop, value", [("0%", 0.0), ("0", 0.0), ("99.9%", 0.999),
                                         ("-0%", 0.0)])
def test_accuracy_max_drop_bounds_that_are_allowed(drop, value):
    assert parse_check(f"accuracy:max-drop={drop}").max_drop == pytest.approx(value)


@pytest.mark.parametrize("drop", ["100%", "150%", "-1%", "-0.01", "1e999%"])
def test_accuracy_max_drop_out_of_bounds_is_refused(drop):
    message = refused(f"accuracy:max-drop={drop}")
    assert "max-drop" in message


def test_accuracy_max_drop_of_100_percent_names_the_bounds():
    assert refused("accuracy:max-drop=100%") == (
        "--check 'accuracy:max-drop=100%': max-drop must be at least 0 and below 100%")
    assert refused("accuracy:max-drop=-0.5") == (
        "--check 'accuracy:max-drop=-0.5': max-drop must be at least 0 and below 100%")


def test_accuracy_max_drop_takes_no_unit_of_time():
    assert refused("accuracy:max-drop=5ms") == (
        "--check 'accuracy:max-drop=5ms' max-drop '5ms': not a number (e.g. 0.01, 1%, 500ms)")


def test_accuracy_with_max_drop_and_a_range():
    check = parse_check("accuracy:min=0.8,max-drop=2%")
    assert (check.min, check.max, check.max_drop, check.drop_relative) == (0.8, None, 0.02,
                                                                            True)


def test_drift_alone_takes_its_default_range_and_retrains():
    assert parse_check("drift") == Check(
        name="drift", query=BUILTIN_QUERIES["drift"], min=None, max=0.5, unit="",
        on_failure="retrain", builtin=True)
    assert parse_check("drift:") == parse_check("drift")
    assert parse_check("drift:   ") == parse_check("drift")


def test_drift_keeps_its_default_range_with_only_an_action():
    check = parse_check("drift:on-failure=none")
    assert (check.min, check.max, check.on_failure) == (None, 0.5, "none")


def test_drift_with_a_limit_of_its_own_drops_the_default():
    check = parse_check("drift:min=0.1")
    assert (check.min, check.max) == (0.1, None)
    assert parse_check("drift:max=0.3").max == 0.3


def test_replicas_unavailable_is_read_from_kubernetes():
    check = parse_check("replicas-unavailable:max=0")
    assert check == Check(name="replicas-unavailable",
                          query="kube: deployment {namespace}/{app}", max=0.0, builtin=True)
    assert check.kube


def test_only_the_builtin_replicas_unavailable_is_a_kubernetes_check():
    assert not Check(name="replicas-unavailable", query="up", builtin=False).kube
    assert not parse_check("error-rate:max=1%").kube
    assert not parse_check("name=replicas,query=up,max=1").kube


def test_replicas_unavailable_takes_no_query():
    message = "replicas-unavailable is read from the Kubernetes API; it takes no query"
    assert refused("replicas-unavailable:query=up,max=0") == (
        f"--check 'replicas-unavailable:query=up,max=0': {message}")
    # nor one from mlgate.yaml's verify.queries: it would be shown but never run
    assert refused("replicas-unavailable:max=0", {"replicas-unavailable": "up"}).endswith(message)


def test_replicas_unavailable_ignores_other_checks_queries():
    check = parse_check("replicas-unavailable:max=1", {"error-rate": "up"})
    assert check.query == BUILTIN_QUERIES["replicas-unavailable"]


@pytest.mark.parametrize("name", ["error-rate", "p95-latency", "accuracy"])
def test_a_builtin_without_a_range_is_refused(name):
    hint = " or max-drop=" if name == "accuracy" else ""
    assert refused(name) == f"--check {name!r}: give min=, max={hint}"
    assert refused(f"{name}:on-failure=none") == (
        f"--check '{name}:on-failure=none': give min=, max={hint}")


def test_replicas_unavailable_without_a_range_is_refused():
    assert refused("replicas-unavailable") == "--check 'replicas-unavailable': give min=, max="


def test_a_builtin_query_can_be_replaced_from_the_configuration():
    queries = {"error-rate": 'my_errors{app="{app}"}', "gpu": "gpu_total"}
    assert parse_check("error-rate:max=1%", queries).query == 'my_errors{app="{app}"}'
    # query= in the SPEC wins over the configuration
    assert parse_check("error-rate:max=1%,query=spec_q", queries).query == "spec_q"
    # a custom check's query comes from its SPEC only
    assert refused("name=gpu,max=1", queries) == (
        "--check 'name=gpu,max=1': a custom check needs query=PROMQL")
    assert parse_check("drift", {}).query == BUILTIN_QUERIES["drift"]
    assert parse_check("drift", None).query == BUILTIN_QUERIES["drift"]


def test_a_builtin_takes_no_name():
    assert refused("error-rate:name=x,max=1") == (
        "--check 'error-rate:name=x,max=1': a built-in check takes no name=")


def test_the_builtin_name_may_have_spaces_around_it():
    assert parse_check("  error-rate :max=1%  ").name == "error-rate"


# -- custom checks ------------------------------------------------------------------------

def test_a_custom_check_from_the_docstring():
    check = parse_check('name=gpu-mem,query=max(gpu_memory_bytes{app="{app}"}),max=8e9,'
                        "on-failure=none")
    assert check == Check(name="gpu-mem", query='max(gpu_memory_bytes{app="{app}"})', min=None,
                          max=8e9, unit="", on_failure="none", builtin=False)


def test_a_custom_check_takes_no_unit():
    assert refused("name=lat,query=up,max=500ms") == (
        "--check 'name=lat,query=up,max=500ms' max '500ms': not a number (e.g. 0.01, 1%, 500ms)")
    assert parse_check("name=lat,query=up,max=5%").max == 0.05


@pytest.mark.parametrize("spec, min_, max_", [
    ("name=c,query=up,min=1,max=2", 1.0, 2.0),
    ("name=c,min=1,query=up,max=2", 1.0, 2.0),
    ("name=c,min=1,max=2,query=up", 1.0, 2.0),
    ("name=c, min = 1 , max= 2 ,query = up ", 1.0, 2.0),
    ("name=c,query=up,min=-5,max=-5", -5.0, -5.0),            # min == max: one value
    ("name=c,query=up,max=1,", None, 1.0),                     # a trailing comma
])
def test_custom_keys_in_any_order(spec, min_, max_):
    check = parse_check(spec)
    assert (check.name, check.query, check.min, check.max) == ("c", "up", min_, max_)


@pytest.mark.parametrize("name", ["a", "a-b", "x1", "1x", "a" * 63, "0"])
def test_custom_names_that_are_allowed(name):
    assert parse_check(f"name={name},query=up,max=1").name == name


@pytest.mark.parametrize("name", ["GPU", "-x", "x-", "a" * 64, "x_y", "x.y", "\uff47",
                                  "\u0661", "x y", "é"])
def test_custom_names_that_are_refused(name):
    message = refused(f"name={name},query=up,max=1")
    assert f"name {name[:40]!r} must be lowercase letters, digits and '-'" in message


def test_a_long_name_is_cut_in_the_message():
    name = "A" * 100
    spec = f"name={name},query=up,max=1"
    assert refused(spec) == (f"--check {spec[:80]!r}: name {'A' * 40!r} must be lowercase "
                             "letters, digits and '-'")


@pytest.mark.parametrize("name", list(BUILTIN_QUERIES))
def test_a_custom_check_cannot_take_a_builtin_name(name):
    assert refused(f"name={name},query=up,max=1") == (
        f"--check 'name={name},query=up,max=1': {name!r} is a built-in check; "
        f"write {name}:max=... instead")


def test_a_custom_check_needs_a_query():
    assert refused("name=c,max=1") == "--check 'name=c,max=1': a custom check needs query=PROMQL"


def test_a_custom_check_needs_a_range():
    assert refused("name=c,query=up") == "--check 'name=c,query=up': give min=, max="
    assert refused("name=c,query=up,on-failure=none") == (
        "--check 'name=c,query=up,on-failure=none': give min=, max=")


def test_max_drop_goes_with_accuracy_only():
    message = ("max-drop goes with the accuracy check (it is relative to the benchmark "
               "evidence's score)")
    assert refused("error-rate:max-drop=5%") == f"--check 'error-rate:max-drop=5%': {message}"
    assert refused("drift:max-drop=5%").endswith(message)
    assert refused("name=acc,query=up,max-drop=5%").endswith(message)


# -- ranges -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, low, high", [
    ("error-rate:max=5%,min=6%", "0.06", "0.05"),
    ("name=c,query=up,min=2,max=1", "2", "1"),
    ("p95-latency:min=2s,max=500ms", "2", "0.5"),
])
def test_min_above_max_is_refused(spec, low, high):
    assert refused(spec) == f"--check {spec!r}: min {low} is above max {high}"


def test_a_limit_that_is_not_a_number_names_which():
    spec = "error-rate:min=abc,max=1%"
    assert refused(spec) == f"--check {spec!r} min 'abc': not a number (e.g. 0.01, 1%, 500ms)"
    spec = "error-rate:min=0,max=abc"
    assert refused(spec) == f"--check {spec!r} max 'abc': not a number (e.g. 0.01, 1%, 500ms)"


def test_min_equal_to_max_is_a_range():
    check = parse_check("error-rate:min=1%,max=1%")
    assert (check.min, check.max) == (0.01, 0.01)


def test_min_alone_is_a_range():
    check = parse_check("accuracy:min=0.9")
    assert (check.min, check.max, check.max_drop) == (0.9, None, None)


def test_limits_of_100_percent():
    assert parse_check("error-rate:max=100%").max == 1.0
    assert parse_check("error-rate:min=0%,max=100%").min == 0.0


@pytest.mark.parametrize("action", ["rollback", "retrain", "none"])
def test_each_action(action):
    assert parse_check(f"error-rate:max=1%,on-failure={action}").on_failure == action
    assert parse_check(f"drift:on-failure={action}").on_failure == action


def test_an_unknown_action_is_refused():
    assert refused("error-rate:max=1%,on-failure=rm -rf") == (
        "--check 'error-rate:max=1%,on-failure=rm -rf': on-failure 'rm -rf': rollback, retrain "
        "or none")
    long = "x" * 50
    assert refused(f"error-rate:max=1%,on-failure={long}").endswith(
        f"on-failure {'x' * 20!r}: rollback, retrain or none")
    assert "'Rollback'" in refused("error-rate:max=1%,on-failure=Rollback")


# -- hostile SPECs ------------------------------------------------------------------------

def test_an_empty_spec_is_refused():
    assert refused("") == "--check '': empty"
    assert refused("  \t ") == "--check '': empty"


def test_an_unknown_check_lists_the_builtins():
    assert refused("latency:max=1") == (
        "--check 'latency:max=1': unknown check 'latency' (built-in: error-rate, p95-latency, "
        "accuracy, drift, replicas-unavailable; or name=N,query=PROMQL,min=,max=)")
    assert f"unknown check {'q' * 40!r} (" in refused("q" * 60)
    assert "unknown check ''" in refused(":max=1")
    assert "unknown check 'query=up,name=x'" in refused("query=up,name=x")


@pytest.mark.parametrize("spec, key", [
    ("error-rate:bogus=1", "bogus"),
    ("error-rate:max=1,,min=0", ",min"),
    ("error-rate:MAX=1", "MAX"),
    ("error-rate:=1", ""),
    ("error-rate:bogus", "bogus"),
    ("error-rate:" + "k" * 50 + "=1", "k" * 30),
])
def test_an_unknown_key_is_refused(spec, key):
    assert refused(spec) == f"--check {spec!r}: {key!r} is not one of {KEYS}"


def test_only_a_comma_separates_keys():
    spec = "error-rate:max=1%;min=0"
    assert refused(spec) == f"--check {spec!r} max '1%;min=0': not a number (e.g. 0.01, 1%, 500ms)"


@pytest.mark.parametrize("key", ["max", "min", "query", "on-failure", "max-drop"])
def test_a_key_without_a_value_is_refused(key):
    assert refused(f"accuracy:{key}") == (
        f"--check 'accuracy:{key}': {key} needs a value ({key}=...)")
    other = "min=0" if key != "min" else "max=1"
    assert refused(f"accuracy:{other},{key}=") == (
        f"--check 'accuracy:{other},{key}=': {key}= is empty")
    assert refused(f"accuracy:{key}= ,{other}").endswith(f": {key}= is empty")


@pytest.mark.parametrize("spec, key", [
    ("error-rate:max=1,max=2", "max"),
    ("error-rate:min=1%,max=2%,min=0", "min"),
    ("name=c,query=up,max=1,name=d", "name"),
    ("name=c,query=up,query=down,max=1", "query"),
    ("error-rate:max=1%,on-failure=none,on-failure=retrain", "on-failure"),
    ("accuracy:max-drop=1%,max-drop=2%", "max-drop"),
])
def test_a_key_given_twice_is_refused(spec, key):
    assert refused(spec) == f"--check {spec!r}: {key} given twice"


@pytest.mark.parametrize("limit", [
    "\u0661",            # Arabic-Indic one
    "\uff11%",           # fullwidth one
    "\u00b2",            # superscript two
    "1\u0660",
    "inf", "-inf", "Infinity", "nan", "NaN", "inf%",
    "1e999", "-1e999", "1e999%", "9" * 400,
    "", "%", "ms", "s", ".", "e5", "1e", "1.2.3", "1_000", "0x10", "1,5", "5 %", "1%%",
    "--1", "+-1", "1/2", "1 000",
])
def test_a_limit_that_is_not_a_finite_ascii_number_is_refused(limit):
    with pytest.raises(BadInput):
        number(limit, "max", "seconds")
    with pytest.raises(BadInput):
        number(limit, "max")
    refused(f"p95-latency:max={limit}")
    refused(f"accuracy:max-drop={limit}")


def test_a_refused_number_names_the_input_once_and_cut():
    with pytest.raises(BadInput) as raised:
        number("x" * 60, "--check 'c' max")
    assert str(raised.value) == (f"--check 'c' max {'x' * 40!r}: not a number (e.g. 0.01, 1%, "
                                 "500ms)")
    with pytest.raises(BadInput) as raised:
        number("1e999", "min")
    assert str(raised.value) == "min '1e999': not a finite number"
    with pytest.raises(BadInput) as raised:
        number("9" * 400, "max")
    assert str(raised.value) == f"max {'9' * 40!r}: not a finite number"
    with pytest.raises(BadInput) as raised:
        number("2e999%", "max")
    assert str(raised.value) == "max '2e999%': not a finite number"


@pytest.mark.parametrize("text, unit, value", [
    ("0.01", "", 0.01), ("1%", "", 0.01), ("1%", "ratio", 0.01), ("100%", "", 1.0),
    (" 5% ", "", 0.05), ("+5", "", 5.0), ("-5", "", -5.0), (".5", "", 0.5), ("5.", "", 5.0),
    ("1e-3", "", 0.001), ("1E3", "", 1000.0), ("1e+3", "", 1000.0), ("8e9", "", 8e9),
    ("1e-400", "", 0.0), ("0", "", 0.0),
    ("500ms", "seconds", 0.5), ("2s", "seconds", 2.0), ("2", "seconds", 2.0),
    ("1.5e3ms", "seconds", 1.5), ("50%", "seconds", 0.5), (" 30ms ", "seconds", 0.03),
])
def test_numbers_that_are_read(text, unit, value):
    assert number(text, "max", unit) == pytest.approx(value, rel=1e-12, abs=0)


@pytest.mark.parametrize("text", ["500ms", "2s", "5m"])
def test_units_of_time_only_for_seconds(text):
    with pytest.raises(BadInput):
        number(text, "max", "ratio")
    with pytest.raises(BadInput):
        number(text, "max")


@settings(max_examples=300)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_finite_float_written_out_reads_back(value):
    assert number(repr(value), "max") == value
    assert number(f"{value}%", "max") == value * 0.01
    assert number(f"{value}ms", "max", "seconds") == value * 0.001
    assert number(f"{value}s", "max", "seconds") == value


# -- queries with commas ------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    'max(x{a=",max=2"})',                               # in a string
    "max(x{a=',max=2'})",
    "max(x{a=`,max=2`})",
    'max(x{a="\\",max=2"})',                            # an escaped quote stays in the string
    "max(x{a='\\',max=2'})",
    'max(x{a="\\\\"}),b',                               # an escaped backslash ends before "
    "sum by (a,b) (x)",                                 # in parentheses
    "label_replace(x, \"d\", \"$1\", \"s\", \"(.*)\")",
    "max_over_time(x[5m:1m])",
    "f(a,max=2)",                                       # a key in parentheses
    "x{a=~\"1,2\",b!=\"x,min=1\"}",
    "x or on(a,b) y",
    "up,bogus=1",                                       # not a key: part of the query
    "up,min",                                           # no =
    "up,=1",
    "x{a=~`C:\\\\`}",                                   # a raw string has no escapes
    "{__name__=~\"a,max=1\"}",
    ")",                                                # unbalanced: still cut after it
    "f(g(a),max=2)",                                    # nested
    "x[1m:{a,b}]",
    "X_total",                                          # X stands for nothing special
    "X(a,max=2)",
])
def test_a_query_keeps_its_commas_up_to_the_next_key(query):
    check = parse_check(f"name=c,query={query},max=1")
    assert (check.query, check.max) == (query, 1.0)
    check = parse_check(f"name=c,min=0,query={query},on-failure=none,max=1")
    assert (check.query, check.min, check.max, check.on_failure) == (query, 0.0, 1.0, "none")


def test_a_raw_string_ending_in_a_backslash_does_not_swallow_the_range():
    check = parse_check("name=win,query=x{p=~`C:\\`},max=1")
    assert (check.query, check.max) == ("x{p=~`C:\\`}", 1.0)


def test_an_unterminated_string_takes_the_rest_as_query():
    # the query is refused later (fill: unterminated string); the range is not read from it
    assert refused('name=c,query=x{a="b},max=1') == (
        "--check 'name=c,query=x{a=\"b},max=1': give min=, max=")


def test_a_key_name_without_a_value_after_the_query_stays_in_it():
    assert refused("name=c,query=up,max") == "--check 'name=c,query=up,max': give min=, max="


@pytest.mark.parametrize("tail, cut", [
    ("up", 2), ("up,max=1", 2), ("up, max =1", 2), ("up,min=0,max=1", 2),
    ("f(a,max=2),max=1", 10), ("f(a,max=2)", 10), ("[a,min=1],name=x", 9),
    ("{a,on-failure=x},on-failure=none", 16), ("a)),max=1", 3),
    ('"a,max=1",max=1', 9), ("'a,max=1',max=1", 9), ("`a,max=1`,max=1", 9),
    ('"\\",max=1",max=1', 10), ("`\\`,max=1", 3), ('"\'",max=1', 3), ("'\"',max=1", 3),
    ("up,max", 6), ("up,bogus=1,max=1", 10), ("up,max=1,min=0", 2), ("up,max-drop=1", 2),
    ("up,query=x", 2), ("up,name=x", 2), ("a,max=1=2", 1), ("up,mix=max=1", 12),
    ("", 0), (",max=1", 0), ('"', 1), ('"\\', 2),
])
def test_where_a_query_ends(tail, cut):
    assert _next_key(tail) == cut


# -- any text: a Check or one line of BadInput --------------------------------------------

_SPEC_PIECES = st.sampled_from([
    "error-rate", "p95-latency", "accuracy", "drift", "replicas-unavailable", "name=", "x",
    ":", ",", "=", "max", "min", "max-drop", "query", "on-failure", "1", "5%", "500ms", "1e999",
    "inf", "\u0661", '"', "'", "`", "\\", "(", ")", "{", "}", "[", "]", "\n", " ", "-", "none",
    "up", "{app}", "#", "\x00",
])


@settings(max_examples=600)
@given(st.lists(_SPEC_PIECES, max_size=14).map("".join) | st.text(max_size=40))
@example("name=c,query=up\n,max=1")
@example("error-rate:max=\u0661%")
@example("accuracy:max-drop=1e999%")
def test_any_spec_gives_a_check_or_one_line_naming_it(spec):
    try:
        check = parse_check(spec)
    except BadInput as exc:
        message = str(exc)
        assert message.startswith("--check ")
        assert "\n" not in message and "\r" not in message
        return
    for limit in (check.min, check.max, check.max_drop):
        assert limit is None or math.isfinite(limit)
    assert check.min is not None or check.max is not None or check.max_drop is not None
    assert check.min is None or check.max is None or check.min <= check.max
    assert check.on_failure in ("rollback", "retrain", "none")
    assert check.query
    assert check.builtin == (check.name in BUILTIN_QUERIES)


def test_queries_replace_built_in_checks_queries_only() -> None:
    """`--query CHECK=PROMQL` (verify and serve-analysis): the name trimmed, the query kept
    whole after the first '=' (PromQL has its own), each built-in but the Kubernetes one."""
    assert parse_queries([]) == {}
    assert parse_queries([" error-rate = sum(x{a=\"b\"}) ", "drift=max(d)"]) == {
        "error-rate": 'sum(x{a="b"})', "drift": "max(d)"}
    for text, words in [("nope=up", "--query 'nope=up': CHECK=PROMQL for a built-in check "
                                    "(error-rate, p95-latency, accuracy, drift)"),
                        ("error-rate", "--query 'error-rate': CHECK=PROMQL"),
                        ("replicas-unavailable=up",
                         "--query 'replicas-unavailable=up': CHECK=PROMQL"),
                        ("drift=  ", "--query drift: empty query"),
                        ("x" * 100, "--query '" + "x" * 60 + "'")]:
        with pytest.raises(BadInput) as caught:
            parse_queries([text])
        assert str(caught.value).startswith(words), caught.value
