"""The exact texts and shapes of the Tool contract that `make mutation` (tool_arguments) found unpinned.

Each test names the mutmut survivors of tools/base.py it kills: the wording of an invalid-arguments
result (the model reads it to fix its call), the JSON a return value becomes, the default object schema
of a raw JSON Schema tool, the log line of a tool that raised, and the result of a value that cannot be
shown to the model."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import json
import logging

from pydantic import BaseModel

from llamasys.tools import JSONSchemaTool, Tool
from llamasys.tools.base import compact_schema, to_json_text


class Echo(JSONSchemaTool):
    async def call(self, **arguments):
        return arguments


SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "minimum": 1}, "mode": {"enum": ["a", "b"]}},
    "required": ["n"],
    "additionalProperties": False,
}


async def test_invalid_arguments_text_lists_every_problem_by_path_and_the_root_as_arguments():
    """Survivors _invalid_arguments 3, 8, 9 and JSONSchemaTool.run 10: separator, root label, tool name."""
    bad = await Echo("echo", "Echo.", SCHEMA).run(n=0, mode="c", extra=1)
    assert bad.error and bad.metadata["kind"] == "invalid_arguments"
    assert bad.content == (
        "Invalid arguments for echo: (arguments): Additional properties are not allowed ('extra' was "
        "unexpected); mode: 'c' is not one of ['a', 'b']; n: 0 is less than the minimum of 1. "
        "Fix the arguments and call again."
    )


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Stamp(BaseModel):
    at: datetime.datetime
    size: int


class Level(enum.Enum):
    HIGH = "high"


class Opaque:
    def __str__(self) -> str:
        return "opaque!"


def test_return_values_become_this_json():
    """Survivors _json_default 1-13 and to_json_text 2, 5, 7: each kind of value, exactly."""
    value = {
        "stamp": Stamp(at=datetime.datetime(2024, 5, 1, 12, 30), size=3),  # mode="json": ISO time
        "point": Point(1, 2),
        "point_class": Point,  # a dataclass type is not an instance: its str()
        "level": Level.HIGH,
        "bytes": b"\x00\xff",
        "pair": (1, 2),
        "opaque": Opaque(),
        "city": "Tromsø",  # ensure_ascii=False: the model reads the letter, not \\u00f8
    }
    assert to_json_text(value) == (
        '{"stamp": {"at": "2024-05-01T12:30:00", "size": 3}, "point": {"x": 1, "y": 2}, '
        f'"point_class": {json.dumps(str(Point))}, "level": "high", "bytes": "AP8=", "pair": [1, 2], '
        '"opaque": "opaque!", "city": "Tromsø"}'
    )


def test_a_raw_schema_tool_defaults_to_an_object_with_properties():
    """Survivors _object_schema 5-22 and JSONSchemaTool.__init__ 1: the defaults, exactly."""
    assert Echo("e", "E.", None).parameters == {"type": "object", "properties": {}}
    assert Echo("e", "E.", {"type": "object"}).definition.parameters == {"type": "object", "properties": {}}
    assert Echo("e", "E.", {"required": ["q"]}).parameters == {
        "required": ["q"],
        "type": "object",
        "properties": {},
    }
    assert Echo("e", "E.", {"type": "string"}).parameters == {"type": "string"}  # not an object: as given
    assert Echo("e", "E.", None).timeout == Tool.timeout == 60.0


async def test_a_raw_schema_tool_keeps_its_timeout():
    """Survivor JSONSchemaTool.__init__ 6 (timeout dropped)."""

    class Sleepy(JSONSchemaTool):
        async def call(self, **arguments):
            await asyncio.sleep(5)

    result = await Sleepy("sleepy", "Sleeps.", None, timeout=0.05).run()
    assert result.error and result.metadata["kind"] == "timeout"
    assert result.content == "sleepy did not finish within 0.05 s; try a smaller request."


async def test_an_invalid_schema_is_logged_by_tool_name_and_arguments_pass_unchecked(caplog):
    """Survivors _make_validator 7-15 and JSONSchemaTool.__init__ 9: the warning names tool and reason."""
    with caplog.at_level(logging.WARNING, logger="llamasys.tools.base"):
        tool = Echo("loose", "Loose.", {"type": "object", "properties": {"n": {"type": 5}}})
    [record] = [r for r in caplog.records if r.name == "llamasys.tools.base"]
    assert record.getMessage() == (
        "tool loose has an invalid JSON Schema (5 is not valid under any of the given schemas); "
        "its arguments are not checked"
    )
    assert (await tool.run(n="anything")).content == '{"n": "anything"}'


class Broken(Tool):
    name = "broken"

    async def call(self) -> str:
        raise RuntimeError("disk on fire")


class OwnTimeout(Tool):
    name = "own_timeout"
    timeout = None

    async def call(self) -> str:
        raise TimeoutError("upstream gave up")


async def test_a_tool_that_raises_is_logged_with_its_name_and_traceback(caplog):
    """Survivors Tool._execute 11-18 and 26-33: the warning line and its exc_info, for both branches."""
    for tool, error in ((Broken(), RuntimeError), (OwnTimeout(), TimeoutError)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="llamasys.tools.base"):
            result = await tool.run()
        assert result.metadata["kind"] == "exception"
        [record] = [r for r in caplog.records if r.name == "llamasys.tools.base"]
        assert record.getMessage() == f"tool {tool.name} raised"
        assert record.exc_info is not None and record.exc_info[0] is error


async def test_a_value_json_cannot_hold_is_a_bad_result_naming_the_tool():
    """Survivors Tool._execute 42-47: the text and kind of a result that cannot be shown."""

    class Looped(Tool):
        name = "looped"

        async def call(self) -> dict:
            loop: dict = {}
            loop["self"] = loop
            return loop

    result = await Looped().run()
    assert result.error and result.metadata["kind"] == "bad_result"
    assert result.content == (
        "looped returned a value that cannot be shown to the model: Circular reference detected"
    )


def test_compact_schema_output_exactly():
    """Survivors compact_schema 45, 46 (a $ref's sibling title kept) and 78, 79 (the kept $defs renamed)."""
    schema = {
        "type": "object",
        "properties": {"home": {"$ref": "#/$defs/Place", "title": "Home", "description": "Where"}},
        "$defs": {"Place": {"type": "object", "title": "Place", "properties": {"city": {"type": "string"}}}},
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {
            "home": {"type": "object", "properties": {"city": {"type": "string"}}, "description": "Where"}
        },
    }
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "title": "Node",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
    }
    node = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}
    assert compact_schema(tree) == {**node, "$defs": {"Node": node}}
