"""The BFCL AST checker against hand-worked cases of BFCL's documented rules."""

from __future__ import annotations

import pytest

from llamasys.apps.eval.checker import check_item, check_relevance, simple_check, standardize_string

TRIANGLE = {
    "name": "calculate_triangle_area",
    "description": "Calculate the area of a triangle given its base and height.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer", "description": "The base of the triangle."},
            "height": {"type": "integer", "description": "The height of the triangle."},
            "unit": {"type": "string", "description": "The unit of measure."},
        },
        "required": ["base", "height"],
    },
}
TRIANGLE_ANSWER = {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}

BMI = {
    "name": "bmi",
    "parameters": {
        "type": "dict",
        "properties": {
            "weight": {"type": "float"},
            "height": {"type": "float"},
            "system": {"type": "string"},
        },
        "required": ["weight", "height"],
    },
}


def call(name: str, **arguments):
    return {name: arguments}


@pytest.mark.parametrize(
    ("output", "valid", "error_type"),
    [
        (call("calculate_triangle_area", base=10, height=5), True, ""),
        (call("calculate_triangle_area", base=10, height=5, unit="units"), True, ""),
        # strings are normalised: case, spaces and punctuation do not count
        (call("calculate_triangle_area", base=10, height=5, unit=" Units."), True, ""),
        (call("calculate_triangle_area", base=10, height=5, unit="cm"), False, "value_error:string"),
        # an integer parameter takes neither a float nor a bool, nor a numeric string
        (call("calculate_triangle_area", base=10.0, height=5), False, "type_error:simple"),
        (call("calculate_triangle_area", base=True, height=5), False, "type_error:simple"),
        (call("calculate_triangle_area", base="10", height=5), False, "type_error:simple"),
        (call("calculate_triangle_area", base=10), False, "simple_function_checker:missing_required"),
        (call("calculate_triangle_area", base=10, height=5, colour="red"), False, "simple_function_checker:unexpected_param"),
        (call("triangle_area", base=10, height=5), False, "simple_function_checker:wrong_func_name"),
        (call("calculate_triangle_area", base=12, height=5), False, "value_error:others"),
    ],
)  # fmt: skip
def test_simple_rules(output, valid, error_type):
    result = simple_check(TRIANGLE, output, TRIANGLE_ANSWER)
    assert (result.valid, result.error_type) == (valid, error_type)


def test_int_is_accepted_for_float_and_matches_by_value():
    answer = {"bmi": {"weight": [70.0], "height": [1.75], "system": ["metric", ""]}}
    assert simple_check(BMI, call("bmi", weight=70, height=1.75), answer).valid
    assert not simple_check(BMI, call("bmi", weight=71, height=1.75), answer).valid


def test_optional_parameter_left_out_must_be_marked_optional():
    # the ground truth lists `system` without "": leaving it out fails even though the schema makes it optional
    answer = {"bmi": {"weight": [70.0], "height": [1.75], "system": ["metric"]}}
    result = simple_check(BMI, call("bmi", weight=70.0, height=1.75), answer)
    assert result.error_type == "simple_function_checker:missing_optional"
    # an optional parameter the ground truth does not list at all may not be given
    answer = {"bmi": {"weight": [70.0], "height": [1.75]}}
    result = simple_check(BMI, call("bmi", weight=70.0, height=1.75, system="metric"), answer)
    assert result.error_type == "simple_function_checker:unexpected_param"


def test_variable_escape_accepts_the_ground_truths_own_type():
    # the schema says integer but the ground truth holds a string (a variable name): a string is accepted
    fn = {
        "name": "f",
        "parameters": {"type": "dict", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    }
    answer = {"f": {"n": ["count"]}}
    assert simple_check(fn, call("f", n="count"), answer).valid
    assert not simple_check(fn, call("f", n="other"), answer).valid


def test_arrays_check_element_types_and_order():
    fn = {
        "name": "mean",
        "parameters": {
            "type": "dict",
            "properties": {"xs": {"type": "array", "items": {"type": "integer"}}, "tags": {"type": "array", "items": {"type": "string"}}},
            "required": ["xs"],
        },
    }  # fmt: skip
    answer = {"mean": {"xs": [[1, 2, 3]], "tags": [["New York", "LA"], ""]}}
    assert simple_check(fn, call("mean", xs=[1, 2, 3]), answer).valid
    assert simple_check(fn, call("mean", xs=[1, 2, 3], tags=["new york", "la"]), answer).valid
    assert not simple_check(fn, call("mean", xs=[3, 2, 1]), answer).valid  # order matters
    assert simple_check(fn, call("mean", xs=[1.0, 2, 3]), answer).error_type == "type_error:nested"


def test_tuple_schema_accepts_a_list():
    fn = {"name": "g", "parameters": {"type": "dict", "properties": {"p": {"type": "tuple", "items": {"type": "integer"}}}, "required": ["p"]}}  # fmt: skip
    assert simple_check(fn, call("g", p=[1, 2]), {"g": {"p": [[1, 2]]}}).valid
    assert simple_check(fn, call("g", p=(1, 2)), {"g": {"p": [[1, 2]]}}).valid


def test_dict_values_are_compared_key_by_key():
    fn = {
        "name": "h",
        "parameters": {"type": "dict", "properties": {"opts": {"type": "dict"}}, "required": ["opts"]},
    }
    answer = {"h": {"opts": [{"city": ["Paris", "paris france"], "days": [3], "units": ["metric", ""]}]}}
    assert simple_check(fn, call("h", opts={"city": "PARIS", "days": 3}), answer).valid
    assert not simple_check(fn, call("h", opts={"city": "Paris"}), answer).valid  # days missing, not optional
    assert not simple_check(fn, call("h", opts={"city": "Paris", "days": 3, "x": 1}), answer).valid


def test_multiple_needs_exactly_one_call_of_the_expected_function():
    other = {"name": "other", "parameters": {"type": "dict", "properties": {}, "required": []}}
    functions = [other, TRIANGLE]
    good = call("calculate_triangle_area", base=10, height=5)
    assert check_item("multiple", functions, [good], [TRIANGLE_ANSWER]).valid
    assert not check_item("multiple", functions, [call("other")], [TRIANGLE_ANSWER]).valid
    assert (
        check_item("multiple", functions, [good, good], [TRIANGLE_ANSWER]).error_type
        == "multiple_function_checker:wrong_count"
    )
    assert (
        check_item("simple_python", [TRIANGLE], [], [TRIANGLE_ANSWER]).error_type
        == "simple_function_checker:wrong_count"
    )


def test_parallel_matches_in_any_order_but_counts_exactly():
    answers = [
        {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}},
        {"calculate_triangle_area": {"base": [3], "height": [4], "unit": [""]}},
    ]
    a = call("calculate_triangle_area", base=10, height=5)
    b = call("calculate_triangle_area", base=3, height=4)
    assert check_item("parallel", [TRIANGLE], [a, b], answers).valid
    assert check_item("parallel", [TRIANGLE], [b, a], answers).valid
    assert not check_item("parallel", [TRIANGLE], [a, a], answers).valid  # one model call cannot match twice
    assert not check_item("parallel", [TRIANGLE], [a], answers).valid
    assert not check_item("parallel_multiple", [TRIANGLE], [a, b, b], answers).valid


def test_irrelevance_passes_only_without_a_call():
    assert check_relevance([]).valid
    assert check_relevance(None).valid
    assert not check_relevance([call("anything", x=1)]).valid


def test_standardize_string():
    assert standardize_string("New York, NY") == standardize_string("new york ny") == "newyorkny"
    assert standardize_string("it's") == 'it"s'
    assert standardize_string("a-b_c*d^e/f.g") == "abcdefg"
