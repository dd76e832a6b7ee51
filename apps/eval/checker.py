"""An AST checker for the Berkeley Function Calling Leaderboard's single-turn categories, written from the
rules BFCL documents and its `ast_checker` applies (bfcl-eval 2026.3.23, Apache-2.0; not copied).

    >>> check_item("simple_python", functions, [{"calculate_triangle_area": {"base": 10, "height": 5}}],
    ...            [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}])
    CheckResult(valid=True, error='', error_type='')

Model output is a list of calls, each `{function_name: {argument: value}}`; a ground truth is a list of
the same shape whose values are lists of allowed values (`""` among them: the argument may be left out).

Rules, in the order they decide:
- simple (one call expected): the name must match exactly; every `required` parameter must be given;
  every given parameter must exist in the schema and in the ground truth ("unexpected parameter"); its
  Python type must be exactly the schema's (`string` str, `integer` int, `float` float, `boolean` bool,
  `array`/`tuple` list, `dict` dict, `any` str) except that an int is accepted for `float` and a tuple
  for `tuple`, and a value of the ground truth's own type is accepted when the ground truth's type
  differs from the schema (a "variable"); arrays get one level of element type checking; strings are
  compared after removing spaces and `,./-_*^`, lower-casing and turning `'` into `"`; lists element by
  element in order (strings normalised); dicts key by key (missing keys must allow `""`); lists of dicts
  in order; anything else by `in` on the allowed values (so 5 matches 5.0); finally every ground-truth
  parameter the model left out must allow `""`.
- multiple: exactly as many calls as expected (one), checked as simple against the expected function.
- parallel / parallel_multiple: exactly as many calls as expected, matched in any order: each expected
  call takes the first not yet matched model call that passes the simple check.
- irrelevance: passes when the output holds no call.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

__all__ = ["CheckResult", "check_item", "check_relevance", "simple_check", "standardize_string"]

PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
_STRIP = re.compile(r"[ ,./\-_*^]")


class CheckResult(BaseModel):
    valid: bool
    error: str = ""
    error_type: str = ""


def _fail(error_type: str, error: str) -> CheckResult:
    return CheckResult(valid=False, error=error, error_type=error_type)


OK = CheckResult(valid=True)


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and `,./-_*^`, lower-case, `'` -> `"`."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def _answer_type(allowed: list[Any]) -> type | None:
    """The type of the first allowed value that is not the omission marker `""` (None if only `""`)."""
    for value in allowed:
        if value != "":
            return type(value)
    return None


def _type_ok(value: Any, allowed: list[Any], expected: type, nested: type | None) -> tuple[bool, bool]:
    """(valid, is_variable) for one value against the schema type and the allowed values."""
    answer_type = _answer_type(allowed)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for candidate in allowed:
            if isinstance(candidate, list) and all(
                _type_ok(item, candidate, nested, None)[0] for item in value
            ):
                return True, is_variable
        return False, is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, is_variable


def _norm(value: Any) -> Any:
    return standardize_string(value) if isinstance(value, str) else value


def _dict_matches(value: dict[str, Any], candidate: dict[str, Any]) -> bool:
    for key, item in value.items():
        if key not in candidate:
            return False
        allowed = candidate[key] if isinstance(candidate[key], list) else [candidate[key]]
        if _norm(item) not in [_norm(a) for a in allowed]:
            return False
    return all(key in value or "" in (c if isinstance(c, list) else [c]) for key, c in candidate.items())


def _value_ok(param: str, value: Any, allowed: list[Any], expected: type, nested: type | None) -> CheckResult:
    if expected is dict:
        if any(isinstance(c, dict) and _dict_matches(value, c) for c in allowed):
            return OK
        return _fail("value_error:dict_value", f"invalid value for {param!r}: {value!r}, allowed {allowed!r}")
    if expected is list and nested is dict:
        for candidate in allowed:
            if (
                isinstance(candidate, list)
                and len(candidate) == len(value)
                and all(
                    isinstance(v, dict) and isinstance(c, dict) and _dict_matches(v, c)
                    for v, c in zip(value, candidate, strict=True)
                )
            ):
                return OK
        return _fail("value_error:list_dict_value", f"invalid value for {param!r}: {value!r}")
    if expected is str:
        if standardize_string(value) in [standardize_string(a) for a in allowed if isinstance(a, str)]:
            return OK
        return _fail("value_error:string", f"invalid value for {param!r}: {value!r}, allowed {allowed!r}")
    if expected is list:
        normalised = [_norm(v) for v in value]
        if any(isinstance(c, list) and normalised == [_norm(v) for v in c] for c in allowed):
            return OK
        return _fail("value_error:list", f"invalid value for {param!r}: {value!r}, allowed {allowed!r}")
    if value in allowed:
        return OK
    return _fail("value_error:others", f"invalid value for {param!r}: {value!r}, allowed {allowed!r}")


def simple_check(function: dict[str, Any], call: dict[str, Any], answer: dict[str, Any]) -> CheckResult:
    """One model call `{name: {args}}` against one function description and one expected call
    `{name: {param: [allowed]}}` (BFCL's simple rules; see the module docstring)."""
    expected_name = next(iter(answer))
    allowed_params: dict[str, list[Any]] = answer[expected_name]
    if not isinstance(call, dict) or len(call) != 1:
        return _fail(
            "simple_function_checker:wrong_format", f"a call must be {{name: {{arguments}}}}, got {call!r}"
        )
    name, arguments = next(iter(call.items()))
    if name != function["name"] or name != expected_name:
        return _fail(
            "simple_function_checker:wrong_func_name", f"function name {name!r}, expected {expected_name!r}"
        )
    if not isinstance(arguments, dict):
        return _fail("simple_function_checker:wrong_format", f"arguments of {name} are not a dict")
    schema = function.get("parameters", {})
    properties: dict[str, Any] = schema.get("properties", {})
    for param in schema.get("required", []):
        if param not in arguments:
            return _fail("simple_function_checker:missing_required", f"missing required parameter {param!r}")
    for param, value in arguments.items():
        if param not in properties or param not in allowed_params:
            return _fail("simple_function_checker:unexpected_param", f"unexpected parameter {param!r}")
        details = properties[param]
        type_name = details.get("type", "any")
        expected = PYTHON_TYPES.get(type_name, str)
        nested = None
        if type_name in _NESTED and isinstance(details.get("items"), dict):
            nested = PYTHON_TYPES.get(details["items"].get("type", "any"), str)
        if type_name == "tuple" and isinstance(value, tuple):
            value = list(value)
        if type_name == "float" and type(value) is int:
            value = float(value)
        allowed = allowed_params[param]
        valid, is_variable = _type_ok(value, allowed, expected, nested)
        if not valid:
            kind = "type_error:nested" if type(value) is expected else "type_error:simple"
            return _fail(kind, f"wrong type for {param!r}: expected {type_name}, got {type(value).__name__}")
        if is_variable:
            if value not in allowed:
                return _fail("value_error:others", f"invalid value for {param!r}: {value!r}")
            continue
        result = _value_ok(param, value, allowed, expected, nested)
        if not result.valid:
            return result
    for param, allowed in allowed_params.items():
        if param not in arguments and "" not in allowed:
            return _fail(
                "simple_function_checker:missing_optional", f"parameter {param!r} left out, not optional"
            )
    return OK


def _function_for(functions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((f for f in functions if f["name"] == name), None)


def check_item(
    category: str,
    functions: list[dict[str, Any]],
    output: list[dict[str, Any]],
    ground_truth: list[dict[str, Any]],
) -> CheckResult:
    """A decoded model output for one BFCL item of an AST category (simple_*, multiple, parallel*)."""
    if not isinstance(output, list) or not all(isinstance(c, dict) and len(c) == 1 for c in output):
        return _fail("ast_decoder:decoder_wrong_output_format", "the output is not a list of {name: args}")
    if "parallel" in category:
        if len(output) != len(ground_truth):
            return _fail(
                "parallel_function_checker_no_order:wrong_count",
                f"{len(output)} calls, expected {len(ground_truth)}",
            )
        used: set[int] = set()
        for answer in ground_truth:
            function = _function_for(functions, next(iter(answer)))
            if function is None:
                return _fail(
                    "parallel_function_checker_no_order:no_function", f"{next(iter(answer))} not offered"
                )
            match = next(
                (
                    i
                    for i, call in enumerate(output)
                    if i not in used and simple_check(function, call, answer).valid
                ),
                None,
            )
            if match is None:
                return _fail(
                    "parallel_function_checker_no_order:cannot_find_match", f"no call matches {answer!r}"
                )
            used.add(match)
        return OK
    if len(output) != len(ground_truth):
        kind = "multiple_function_checker" if "multiple" in category else "simple_function_checker"
        return _fail(f"{kind}:wrong_count", f"{len(output)} calls, expected {len(ground_truth)}")
    function = _function_for(functions, next(iter(ground_truth[0])))
    if function is None:
        return _fail("simple_function_checker:no_function", "the expected function is not offered")
    return simple_check(function, output[0], ground_truth[0])


def check_relevance(output: list[dict[str, Any]] | None) -> CheckResult:
    """irrelevance: valid when the output holds no call (None = the output did not decode)."""
    if not output or output == [{}]:
        return OK
    return _fail("irrelevance_error:decoder_success", "a function was called on an irrelevant request")
