"""`@tool`: schemas from signatures and docstrings, validation, sync/async, timeouts, return values."""

import asyncio
import enum
import json
import threading
import time
from typing import Annotated, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from llamasys.tools import FunctionTool, ToolResult, tool
from llamasys.tools.decorator import parse_docstring


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Window(BaseModel):
    start: str = Field(description="ISO date")
    end: str | None = None


@tool
def forecast(
    city: str,
    days: int = 3,
    unit: Unit = Unit.CELSIUS,
    detail: Literal["brief", "full"] = "brief",
    stations: list[str] | None = None,
    window: Optional[Window] = None,  # noqa: UP045  (Optional spelled out on purpose)
    limit: Annotated[int, Field(ge=1, le=10, description="At most this many rows")] = 5,
    note: Annotated[str, "A free note"] = "",
) -> dict:
    """Weather forecast for a city.

    Uses the nearest stations.

    Args:
        city: The city, e.g. "Paris".
        days (int): How many days,
            today included.
        unit: Temperature unit.
        detail: How much to say.
        stations: Station ids to prefer.
        window: Only this date range.
        limit: Overridden by the Annotated description.

    Returns:
        A dict.
    """
    return {
        "city": city,
        "days": days,
        "unit": unit,
        "detail": detail,
        "stations": stations,
        "window": window,
        "limit": limit,
    }


def test_name_description_and_schema_from_signature_and_docstring():
    d = forecast.definition
    assert d.name == "forecast"
    assert d.description == "Weather forecast for a city.\n\nUses the nearest stations."
    p = d.parameters
    assert p["type"] == "object" and p["required"] == ["city"] and p["additionalProperties"] is False
    props = p["properties"]
    assert props["city"] == {"type": "string", "description": 'The city, e.g. "Paris".'}
    assert props["days"] == {"type": "integer", "default": 3, "description": "How many days, today included."}
    assert props["unit"] == {
        "type": "string",
        "enum": ["celsius", "fahrenheit"],
        "default": "celsius",
        "description": "Temperature unit.",
    }
    assert props["detail"] == {
        "type": "string",
        "enum": ["brief", "full"],
        "default": "brief",
        "description": "How much to say.",
    }
    assert props["stations"]["anyOf"] == [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
    window_object = props["window"]["anyOf"][0]
    assert window_object["properties"]["start"] == {"type": "string", "description": "ISO date"}
    assert window_object["required"] == ["start"]
    assert props["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10,
        "default": 5,
        "description": "At most this many rows",
    }
    assert props["note"] == {"type": "string", "default": "", "description": "A free note"}


async def test_arguments_are_validated_and_coerced():
    result = await forecast.run(city="Oslo", days="2", unit="fahrenheit", window={"start": "2026-01-01"})
    assert not result.error
    assert json.loads(result.content) == {
        "city": "Oslo",
        "days": 2,
        "unit": "fahrenheit",
        "detail": "brief",
        "stations": None,
        "window": {"start": "2026-01-01", "end": None},
        "limit": 5,
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "city: Field required"),
        ({"city": "Oslo", "detail": "verbose"}, "detail: Input should be 'brief' or 'full'"),
        ({"city": "Oslo", "limit": 11}, "limit: Input should be less than or equal to 10"),
        ({"city": "Oslo", "unit": "kelvin"}, "unit: Input should be 'celsius' or 'fahrenheit'"),
        ({"city": "Oslo", "window": {"end": "x"}}, "window.start: Field required"),
        ({"city": "Oslo", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
async def test_validation_errors_tell_the_model_what_to_fix(arguments, expected):
    result = await forecast.run(**arguments)
    assert result.error and result.metadata["kind"] == "invalid_arguments"
    assert expected in result.content
    assert result.content.startswith("Invalid arguments for forecast:")


def test_the_decorated_function_is_still_callable():
    assert isinstance(forecast, FunctionTool)
    assert forecast("Rome", days=1)["days"] == 1
    assert forecast.__name__ == "forecast" and forecast.__wrapped__ is not None


async def test_sync_functions_run_in_a_worker_thread_without_blocking_the_loop():
    seen = {}

    @tool
    def block(seconds: float) -> str:
        """Block the calling thread."""
        seen["thread"] = threading.get_ident()
        time.sleep(seconds)
        return "slept"

    ticks = 0

    async def ticker():
        nonlocal ticks
        for _ in range(5):
            await asyncio.sleep(0.02)
            ticks += 1

    result, _ = await asyncio.gather(block.run(seconds=0.3), ticker())
    assert result.content == "slept"
    assert seen["thread"] != threading.get_ident()
    assert ticks == 5  # the loop kept running while the function slept


async def test_async_functions_and_custom_name_timeout_and_description():
    @tool(name="lookup_user", description="Find a user by id.", timeout=0.1)
    async def find(user_id: int) -> ToolResult:
        if user_id == 0:
            await asyncio.sleep(2)
        return ToolResult(content=f"user {user_id}", metadata={"id": user_id})

    assert find.definition.name == "lookup_user"
    assert find.definition.description == "Find a user by id."
    ok = await find.run(user_id=7)
    assert ok == ToolResult(content="user 7", metadata={"id": 7})
    slow = await find.run(user_id=0)
    assert slow.error and slow.metadata["kind"] == "timeout" and "lookup_user" in slow.content


async def test_exceptions_and_return_values():
    @tool
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    @tool
    def nothing() -> None:
        """Return nothing."""

    assert (await divide.run(a=1, b=4)).content == "0.25"
    failed = await divide.run(a=1, b=0)
    assert failed.error and "ZeroDivisionError" in failed.content
    assert (await nothing.run()).content == "null"


def test_signatures_a_model_cannot_call_are_refused_at_decoration():
    with pytest.raises(TypeError, match=r"takes \*args"):

        @tool
        def many(*args: int) -> int:
            """Sum."""
            return sum(args)

    with pytest.raises(TypeError, match="generator"):

        @tool
        def gen(n: int):
            """Count."""
            yield n


def test_unresolvable_type_hint_is_a_clear_error():
    def f(x: "NoSuchType") -> str:  # noqa: F821
        """F."""
        return ""

    with pytest.raises(TypeError, match="cannot resolve the type hints of f"):
        tool(f)


def test_numpy_style_docstring():
    @tool
    def area(width: float, height: float, unit: str = "m") -> str:
        """Area of a rectangle.

        Parameters
        ----------
        width, height : float
            Side lengths,
            both positive.
        unit : str, optional
            Length unit.

        Returns
        -------
        str
        """
        return f"{width * height} {unit}^2"

    props = area.definition.parameters["properties"]
    assert area.definition.description == "Area of a rectangle."
    assert props["width"]["description"] == "Side lengths, both positive."
    assert props["height"]["description"] == "Side lengths, both positive."
    assert props["unit"]["description"] == "Length unit."


def test_sphinx_style_docstring():
    @tool
    def convert(amount: float, currency: str) -> str:
        """Convert money.

        :param amount: How much,
            in the source currency.
        :param str currency: ISO code.
        :returns: the converted amount
        """
        return ""

    props = convert.definition.parameters["properties"]
    assert convert.definition.description == "Convert money."
    assert props["amount"]["description"] == "How much, in the source currency."
    assert props["currency"]["description"] == "ISO code."


def test_parse_docstring_edge_cases():
    assert parse_docstring(None).description == ""
    plain = parse_docstring("Just a sentence\nover two lines.")
    assert plain.description == "Just a sentence over two lines." and plain.params == {}
    google = parse_docstring("Do it.\n\nArgs:\n    x: the x\n\nRaises:\n    ValueError: if bad\n")
    assert google.params == {"x": "the x"}  # Raises entries are not parameters
    typed = parse_docstring("Do it.\n\nArgs:\n    xs (list(int), optional): numbers\n    **kw: extra\n")
    assert typed.params == {"xs": "numbers", "kw": "extra"}
