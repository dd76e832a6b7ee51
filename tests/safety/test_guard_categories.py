"""Every way a guard model writes its categories gives the same codes (issue 12, fault 3).

The case from the report: `unsafe\\nS1: Violent Crimes.` gave no codes, so an excluded S1 allowed
`unsafe\\nS1` but blocked the same judgement written with the category's name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llamasys.safety.llama_guard import (
    CATEGORIES,
    CATEGORIES_1B,
    CATEGORIES_8B,
    parse_guard_output,
)


def test_the_reported_case_names_its_code():
    out = parse_guard_output("unsafe\nS1: Violent Crimes.")
    assert (out.safe, out.codes, out.unknown_codes) == (False, ["S1"], [])


@pytest.mark.parametrize(
    "text, codes, unknown",
    [
        ("unsafe\nS1: Violent Crimes.", ["S1"], []),
        ("unsafe\nS1: Violent Crimes.\nS10: Hate.", ["S1", "S10"], []),
        ("UNSAFE\nS1 - Violent Crimes\nS10 - Hate", ["S1", "S10"], []),
        ("unsafe\nS11 (Self-Harm)", ["S11"], []),
        ("unsafe\nViolent Crimes, Hate", ["S1", "S10"], []),
        ("unsafe\nviolent crimes", ["S1"], []),
        ("unsafe\nNon-Violent Crimes", ["S2"], []),  # not read as "Violent Crimes"
        ("unsafe\nnonviolent crimes", ["S2"], []),
        ("unsafe\nself harm", ["S11"], []),
        ("unsafe\n- S1\n- S10", ["S1", "S10"], []),
        ("unsafe\n* S3: Sex Crimes.", ["S3"], []),
        ("unsafe\n[S1, S10]", ["S1", "S10"], []),
        ("unsafe\nS1;S10", ["S1", "S10"], []),
        ("unsafe\nS1/S10", ["S1", "S10"], []),
        ("unsafe\nS1 and S10", ["S1", "S10"], []),
        ("unsafe\ns01, s 10", ["S1", "S10"], []),
        ("unsafe\nS-1", ["S1"], []),
        ("Unsafe.\nCategory: S1", ["S1"], []),
        ("unsafe\nViolated categories: S1", ["S1"], []),
        ("**unsafe**\nS3: Sex Crimes", ["S3"], []),
        ("unsafe\nS1, S99", ["S1"], ["S99"]),
        ("unsafe\nS1: Violent Crimes, Hate", ["S1", "S10"], []),
        ("unsafe\nsomething weird", [], ["something", "weird"]),
        ("unsafe\nS99,foo", [], ["S99", "foo"]),
    ],
)
def test_every_spelling_gives_the_codes(text, codes, unknown):
    out = parse_guard_output(text)
    assert (out.safe, out.codes, out.unknown_codes) == (False, codes, unknown)


def test_a_named_category_the_model_does_not_have_is_unknown():
    out = parse_guard_output("unsafe\nS14: Code Interpreter Abuse.", known=CATEGORIES_1B)
    assert (out.codes, out.unknown_codes) == ([], ["S14"])
    assert parse_guard_output("unsafe\nCode Interpreter Abuse", known=CATEGORIES_1B).unknown_codes == ["S14"]


def _render(code: str, style: str) -> str:
    name = CATEGORIES[code]
    number = code[1:]
    return {
        "code": code,
        "lower": code.lower(),
        "padded": f"S{int(number):02d}",
        "colon_name": f"{code}: {name}.",
        "dash_name": f"{code} - {name}",
        "paren_name": f"{code} ({name})",
        "name": name,
        "lower_name": name.lower(),
        "upper_name": name.upper(),
    }[style]


_STYLES = [
    "code",
    "lower",
    "padded",
    "colon_name",
    "dash_name",
    "paren_name",
    "name",
    "lower_name",
    "upper_name",
]


@settings(max_examples=300, deadline=None)
@given(
    codes=st.lists(st.sampled_from(CATEGORIES_8B), min_size=1, max_size=4, unique=True),
    styles=st.lists(st.sampled_from(_STYLES), min_size=4, max_size=4),
    separator=st.sampled_from([",", ", ", "\n", "; ", " and ", "\n- ", " / "]),
    head=st.sampled_from(["unsafe\n", "UNSAFE\n", "Unsafe\n\n", "unsafe ", "unsafe\n- "]),
)
def test_every_rendering_of_a_set_of_categories_gives_its_codes(codes, styles, separator, head):
    text = head + separator.join(_render(c, s) for c, s in zip(codes, styles, strict=False))
    out = parse_guard_output(text)
    assert (out.safe, out.codes, out.unknown_codes) == (False, codes, []), text
