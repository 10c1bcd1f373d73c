"""A check's query as Flagger and Argo Rollouts take it: rendered by the controller's rules,
it is exactly the query mlgate verify sends (promql.fill), for every query and value."""

from __future__ import annotations

import pytest
from support import gocheck

from mlgate.errors import BadInput
from mlgate.verify.check import BUILTIN_QUERIES
from mlgate.verify.promql import duration, fill
from mlgate.verify.render.queries import argo_query, flagger_query

HOSTILE = 'prod"} or vector(1) {{ target }} {{"{"}} \\ \n #'
TEMPLATES = [
    *(q for name, q in BUILTIN_QUERIES.items() if name != "replicas-unavailable"),
    'label_replace(up{job="{app}"}, "l", "{{x}}", "", "")',
    '{__name__=~"a{2}",app="{app}"}[{window}]',
    'sum(x{app="{{{app}}}"})',
    'sum(x{app="{app}{{"}) + {{',
    'max(m{env="{environment}",v="{model_version}",ns="{namespace}"}) {',
    'rate(x{app="{app}"}[{window}]) > bool {{{',
    'count(y{a="}}{{{app}}}}"})',
]
FACTS = {"namespace": "ml-prod", "target": "churn", "interval": "30s"}


def go_render(text: str, funcs: dict[str, str]) -> str:
    """Go text/template's reading of `text` for the actions mlgate writes: an action starts at
    the first "{{" and ends at the next "}}" outside a quoted string; it is one of the
    functions, or the string "{"."""
    out, i = [], 0
    while True:
        j = text.find("{{", i)
        if j < 0:
            return "".join(out) + text[i:]
        out.append(text[i:j])
        k, quoted = j + 2, False
        while k < len(text) and (quoted or not text.startswith("}}", k)):
            if text[k] == "\\" and quoted:
                k += 1
            elif text[k] == '"':
                quoted = not quoted
            k += 1
        if k >= len(text):
            raise ValueError(f"unclosed action in {text!r}")
        body = text[j + 2:k].strip()
        if body == '"{"':
            out.append("{")
        elif body in funcs:
            out.append(funcs[body])
        else:
            raise ValueError(f"Flagger would run {body!r}")
        i = k + 2


def _labels(environment: str = "production") -> dict[str, str]:
    return {"environment": environment, "model_version": "7"}


def _verify_query(template: str, labels: dict[str, str]) -> str:
    return fill(template, {**labels, "namespace": FACTS["namespace"], "app": FACTS["target"]},
                30.0, "x")


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("environment", ["production", HOSTILE])
def test_flagger_renders_exactly_what_verify_queries(template: str, environment: str) -> None:
    labels = _labels(environment)
    text = flagger_query(template, labels, "--check x")
    assert go_render(text, FACTS) == _verify_query(template, labels)
    # the only actions are Flagger's facts and the literal brace
    bodies = {part.split("}}")[0].strip() for part in text.split("{{")[1:]}
    assert bodies <= {"namespace", "target", "interval", '"{"'}


def test_flagger_takes_its_own_facts_for_namespace_app_and_window() -> None:
    text = flagger_query(BUILTIN_QUERIES["error-rate"], {}, "--check error-rate")
    assert 'namespace="{{ namespace }}",app="{{ target }}"' in text
    assert "[{{ interval }}]" in text and "30s" not in text
    assert duration(30.0) == FACTS["interval"]


def test_real_go_templates_agree() -> None:
    binary = gocheck.harness()
    if binary is None:
        pytest.fail("Go and Debian's golang-github-antonmedv-expr-dev are not installed: "
                    "./scripts/test installs them (apt-get install golang-go "
                    "golang-github-antonmedv-expr-dev)")
    cases = [(t, _labels(e)) for t in TEMPLATES for e in ("production", HOSTILE)]
    answers = gocheck.run(binary, [{"tmpl": flagger_query(t, labels, "x"), "ns":
                                    FACTS["namespace"], "target": FACTS["target"],
                                    "interval": FACTS["interval"]} for t, labels in cases])
    for (template, labels), answer in zip(cases, answers):
        assert answer == {"text": _verify_query(template, labels)}, template


@pytest.mark.parametrize("render", ["flagger", "argo"])
def test_a_label_outside_a_string_is_refused_as_verify_refuses_it(render: str) -> None:
    template = 'sum(x{app="a"}) or on() {namespace}'
    with pytest.raises(BadInput, match=r"--check x: \{namespace\} must stand inside a "
                                       r"double-quoted string"):
        if render == "flagger":
            flagger_query(template, {}, "--check x")
        else:
            argo_query(template, {"namespace": "ml"}, 30.0, "--check x")


def test_flagger_needs_values_only_for_the_labels_it_has_no_fact_for() -> None:
    flagger_query('x{app="{app}",ns="{namespace}"}[{window}]', {}, "--check x")
    with pytest.raises(BadInput, match=r"--check x: the query uses \{environment\} but no "
                                       r"value is given \(--environment\)"):
        flagger_query('x{env="{environment}"}', {}, "--check x")


@pytest.mark.parametrize("template", [t for t in TEMPLATES if "{{" not in t])
def test_argo_gets_verify_query_itself(template: str) -> None:
    labels = {**_labels(), "namespace": "ml", "app": "churn"}
    assert argo_query(template, labels, 45.0, "x") == fill(template, labels, 45.0, "x")


def test_argo_refuses_what_it_would_read_as_an_argument() -> None:
    labels = {"namespace": "ml", "app": "churn"}
    with pytest.raises(BadInput, match=r"--check x: the query holds '\{\{'"):
        argo_query('label_replace(up, "l", "{{x}}", "", "")', labels, 30.0, "--check x")
    with pytest.raises(BadInput, match="holds '{{'"):     # made by a value, after escaping
        argo_query('up{env="{environment}"}', {**labels, "environment": "a{{b"}, 30.0, "--check x")
    with pytest.raises(BadInput, match=r"\(--namespace\)"):
        argo_query(BUILTIN_QUERIES["drift"], {"app": "churn"}, 30.0, "--check drift")
