"""Llama Guard's decision as a table: exclusions, unknown codes and named categories together, in both
the text mode and the threshold mode. Each rule was tested alone before; a decision that dropped the
"unknown codes still block" condition let `unsafe\\nS6,S42` through while excluding S6 (issue 18)."""

from __future__ import annotations

import pytest

from llamasys.safety.llama_guard import LlamaGuard, parse_guard_output

# (model output, excluded categories, allowed?, categories on the verdict, unknown codes reported)
TABLE = [
    ("safe", ["S6"], True, [], []),
    ("unsafe\nS6", ["S6"], True, [], []),  # every category named is excluded
    ("unsafe\nS6,S42", ["S6"], False, [], ["S42"]),  # an unknown code is not covered by the exclusion
    ("unsafe\nS42,S6", ["S6"], False, [], ["S42"]),
    ("unsafe\nS6\nS42", ["S6"], False, [], ["S42"]),
    ("unsafe\nS6,S2", ["S6"], False, ["S2"], []),
    ("unsafe\nS6,S2,S42", ["S6"], False, ["S2"], ["S42"]),
    ("unsafe\nS42", [], False, [], ["S42"]),
    ("unsafe\nS42", ["S6"], False, [], ["S42"]),
    ("unsafe\nS6,S10", ["S6", "S10"], True, [], []),
    ("unsafe\nS6,S10", ["S6"], False, ["S10"], []),
    ("unsafe", ["S6"], False, [], []),  # unsafe without a category: nothing excluded it
    ("unsafe\nS2", [], False, ["S2"], []),
]


IDS = [f"{case[0]!r} excluding {','.join(case[1]) or 'nothing'}" for case in TABLE]


@pytest.mark.parametrize(("output", "excluded", "allowed", "categories", "unknown"), TABLE, ids=IDS)
def test_text_mode(output, excluded, allowed, categories, unknown):
    guard = LlamaGuard("llama-guard-3-8b", excluded_categories=excluded)
    verdict = guard.decide(parse_guard_output(output), 0.9 if output != "safe" else 0.1, "user_input")
    assert verdict.allowed is allowed, verdict
    if not allowed:
        assert list(verdict.categories) == categories
    assert verdict.details.get("unknown_codes", []) == unknown


@pytest.mark.parametrize(("output", "excluded", "allowed", "categories", "unknown"), TABLE, ids=IDS)
def test_threshold_mode_over_the_threshold(output, excluded, allowed, categories, unknown):
    """With a threshold the score decides unsafe-or-not; the exclusions then apply exactly as in text
    mode (a 'safe' text with a score over the threshold is unsafe with no category: it blocks)."""
    guard = LlamaGuard("llama-guard-3-8b", excluded_categories=excluded, threshold=0.5)
    verdict = guard.decide(parse_guard_output(output), 0.75, "user_input")
    expected = allowed and output != "safe"
    assert verdict.allowed is expected, verdict
    assert verdict.details["threshold"] == 0.5
    if not expected:
        assert list(verdict.categories) == categories


@pytest.mark.parametrize("output", [case[0] for case in TABLE])
def test_threshold_mode_under_the_threshold_allows(output):
    guard = LlamaGuard("llama-guard-3-8b", excluded_categories=["S6"], threshold=0.5)
    verdict = guard.decide(parse_guard_output(output), 0.25, "user_input")
    assert verdict.allowed
    assert verdict.details["text_verdict"] == ("safe" if output == "safe" else "unsafe")
