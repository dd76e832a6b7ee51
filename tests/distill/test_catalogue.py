"""The tool catalogue: every family draws calls that fit its schema and run, sibling families exist and are
offered side by side, and a near miss is never offered next to a sibling that would serve it."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import defaultdict

import jsonschema
import pytest

from llamasys.apps.distill import generate as gen
from llamasys.apps.distill.catalogue import TEMPLATES, draw_tool, type_numbers
from llamasys.apps.distill.generate import GenerateConfig

GROUPS: dict[str, list[str]] = defaultdict(list)
for _t in TEMPLATES:
    if _t.group:
        GROUPS[_t.group].append(_t.name)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_every_family_draws_valid_calls_that_run(template):
    for seed in range(40):
        for rate in (0.0, 0.35, 1.0):
            rng = random.Random(f"{template.name}-{seed}-{rate}")
            tool = draw_tool(rng, template)
            call = tool.sample_call(rng, optional_rate=rate)
            jsonschema.Draft202012Validator.check_schema(tool.definition.parameters)
            jsonschema.Draft202012Validator(tool.definition.parameters).validate(call.arguments)
            assert json.loads(json.dumps(call.arguments)) == call.arguments
            assert call.answer_value in call.answer and "{" not in call.question, call.question
            assert json.dumps(call.result)  # a tool result is JSON
            # pure and deterministic: the same arguments give the same result
            inverse = {offered: name for name, offered in tool.param_names.items()}
            assert template.execute({inverse[k]: v for k, v in call.arguments.items()}) == call.result
            if rate == 1.0:
                assert set(call.arguments) == set(tool.definition.parameters["properties"])


def test_the_catalogue_covers_nested_objects_string_lists_and_booleans():
    schemas = [p.schema for t in TEMPLATES for p in t.params]
    objects = [s for s in schemas if s["type"] == "object"]
    assert len(objects) >= 3 and all(s["properties"] and s["required"] for s in objects)
    assert sum(1 for s in schemas if s["type"] == "array" and s["items"]["type"] == "string") >= 4
    optional_booleans = [
        p for t in TEMPLATES for p in t.params if p.schema["type"] == "boolean" and not p.required
    ]
    assert len(optional_booleans) >= 12
    assert len(TEMPLATES) >= 55 and len({t.name for t in TEMPLATES}) == len(TEMPLATES)


def test_free_text_parameters_named_type_take_the_requests_words():
    """BFCL's schemas have string parameters called `type` ("The personality type"); round 5, never shown
    one, wrote the JSON type into them (`{"type": "string"}`). Families with such a parameter exist and the
    value a call carries is the request's own words, so the data teaches copying them."""
    families = [t for t in TEMPLATES for p in t.params if p.name == "type" and "enum" not in p.schema]
    assert len(families) >= 2
    rng = random.Random(5)
    for template in families:
        for _ in range(10):
            tool = draw_tool(rng, template, mask_rate=0.0, paraphrase_rate=0.0)
            call = tool.sample_call(rng, optional_rate=0.5)
            assert call.arguments["type"] not in ("string", "integer", "number")
            assert call.arguments["type"] in call.question


def test_sibling_groups_share_argument_shapes():
    assert sum(1 for names in GROUPS.values() if len(names) >= 2) >= 6
    assert all(len(names) >= 2 for names in GROUPS.values()), GROUPS  # a group of one is a typo
    by_name = {t.name: t for t in TEMPLATES}
    shared = 0
    for names in GROUPS.values():
        required = [{(p.name, p.schema["type"]) for p in by_name[n].params if p.required} for n in names]
        shared += all(r & set().union(*(o for o in required if o is not r)) for r in required)
    assert shared >= 6  # most groups: every member shares a required argument with a sibling


@pytest.fixture
def recorded(monkeypatch):
    """The templates `draw_tool` is called with, through the generator."""
    drawn: list[str] = []

    def recording(rng, template, **kwargs):
        drawn.append(template.name)
        return draw_tool(rng, template, **kwargs)

    monkeypatch.setattr(gen, "draw_tool", recording)
    return drawn


def test_offer_draws_siblings_about_half_the_time(recorded):
    builder = gen._Builder(GenerateConfig(), tools=None)
    by_name = {t.name: t for t in TEMPLATES}
    grouped = by_name["element_melting_point"]
    lone = by_name["two_sample_t_test"]
    rates = {}
    for template in (grouped, lone):
        hits = 0
        for seed in range(200):
            rng = random.Random(seed)
            chosen = draw_tool(rng, template)
            recorded.clear()
            try:
                builder._offer(rng, [chosen], 1)
            except gen._Drop:
                continue
            hits += any(by_name[n].group == grouped.group for n in recorded)
        rates[template.name] = hits / 200
    assert 0.4 <= rates["element_melting_point"] <= 0.75, rates
    assert rates["two_sample_t_test"] < 0.1, rates


class _NoBuiltins:
    def definitions(self, names, bank):
        return []


def test_a_near_miss_is_never_offered_with_a_sibling_family(recorded, monkeypatch):
    asked: list[str] = []
    real = gen.near_miss_request

    def recording(rng, name):
        asked.append(name)
        return real(rng, name)

    monkeypatch.setattr(gen, "near_miss_request", recording)
    builder = gen._Builder(GenerateConfig(), tools=_NoBuiltins())
    group = {t.name: t.group for t in TEMPLATES}
    near_misses = 0
    for seed in range(400):
        asked.clear()
        recorded.clear()
        example = asyncio.run(builder._irrelevant(random.Random(seed), f"irrelevant-{seed}"))
        assert not any(m.role == "assistant" and m.tool_calls for m in example.messages)
        if asked:
            (wanted,) = asked
            near_misses += 1
            others = [n for n in recorded if n != wanted]
            assert wanted in recorded
            assert not group[wanted] or all(group[n] != group[wanted] for n in others), (wanted, others)
    assert near_misses > 100


def _integral_floats(value):
    if isinstance(value, float) and value.is_integer():
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _integral_floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _integral_floats(v)


def test_a_whole_number_is_written_as_an_integer():
    """The request says "2000", so the call says 2000, not 2000.0: BFCL (like any strict checker) rejects a
    float for an `integer` parameter, and a model trained on `2000.0` writes it there too."""
    whole = 0
    for template in TEMPLATES:
        for seed in range(60):
            rng = random.Random(f"whole-{template.name}-{seed}")
            call = draw_tool(rng, template).sample_call(rng, optional_rate=1.0)
            assert not list(_integral_floats(call.arguments)), (template.name, call.arguments)
            whole += sum(isinstance(v, int) and not isinstance(v, bool) for v in call.arguments.values())
    assert whole > 100


class _Always:
    """An rng whose every draw picks the style."""

    def random(self) -> float:
        return 0.0


@pytest.mark.parametrize(
    "plain, typed",
    [("a 70 kg person moving at 12 m/s", "a 70kg person moving at 12m/s"),
     ("a 250000 loan at 5.5 percent", "a 250,000 loan at 5.5%"),
     ("1200 USD converted to JPY", "$1,200 converted to JPY"),
     ("12345.67 EUR in GBP", "\u20ac12,345.67 in GBP"),
     ("the 2019 season, built in 1995", "the 2019 season, built in 1995"),  # years stay years
     ("on 2026-03-14 at 10:30, case 2024-00017", "on 2026-03-14 at 10:30, case 2024-00017"),
     ("the average of 1200, 20000 and 3", "the average of 1200, 20000 and 3"),  # a list stays readable
     ("3 mg of salt", "3 mg of salt")],  # not a unit it knows
)  # fmt: skip
def test_type_numbers_writes_numbers_as_people_type_them(plain, typed):
    assert type_numbers(plain, _Always()) == typed


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_typed_numbers_keep_the_arguments_valid_and_the_answer_grounded(template):
    for seed in range(20):
        rng = random.Random(f"typed-{template.name}-{seed}")
        tool = draw_tool(rng, template)
        call = tool.sample_call(rng, optional_rate=0.5, number_style_rate=1.0)
        jsonschema.Draft202012Validator(tool.definition.parameters).validate(call.arguments)
        assert call.answer_value in call.answer and "{" not in call.question, call.question
        for value in call.arguments.values():  # the JSON holds bare numbers, never the typed words
            assert not isinstance(value, str) or not value.startswith(("$", "\u20ac", "\u00a3")), (
                call.arguments
            )


def test_typed_numbers_occur_in_every_style_and_never_at_rate_zero():
    typed, plain = [], []
    for template in TEMPLATES:
        for seed in range(30):
            rng = random.Random(f"styles-{template.name}-{seed}")
            tool = draw_tool(rng, template)
            typed.append(tool.sample_call(rng, optional_rate=0.5, number_style_rate=1.0).question)
            rng = random.Random(f"styles-{template.name}-{seed}")
            tool = draw_tool(rng, template)
            plain.append(tool.sample_call(rng, optional_rate=0.5).question)
    text = "\n".join(typed)
    for pattern in [r"\$\d", r"\d,\d{3}\b", r"\d(kg|m/s|m|km)\b", r"\d%"]:
        assert re.search(pattern, text), pattern
    assert not any(re.search(r"[$\u20ac\u00a3]\d|\d,\d{3}\b|\d%|\d(kg|m/s)\b", q) for q in plain)
