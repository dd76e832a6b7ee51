"""The Tool contract: validation, timeouts, exceptions and return values all become ToolResults."""

import asyncio
import enum
import json
import subprocess
import sys

from pydantic import BaseModel, Field

from llamasys.tools import Attachment, JSONSchemaTool, Tool, ToolResult
from llamasys.tools.base import compact_schema


class Address(BaseModel):
    street: str
    city: str = Field(description="City name")


class Person(BaseModel):
    name: str
    home: Address
    work: Address | None = None


class Node(BaseModel):
    value: int
    children: list["Node"] = []


class Register(Tool):
    name = "register"
    description = "Register a person."

    class Arguments(BaseModel):
        person: Person
        tags: list[str] = []

    async def call(self, person: Person, tags: list[str]) -> ToolResult:
        assert isinstance(person, Person)  # nested models arrive as models
        return ToolResult(content=f"{person.name} in {person.home.city}", metadata={"tags": tags})


class Slow(Tool):
    name = "slow"
    description = "Sleeps."
    timeout = 0.05

    async def call(self) -> str:
        await asyncio.sleep(5)
        return "never"


class Broken(Tool):
    name = "broken"
    description = "Raises."

    async def call(self) -> str:
        raise RuntimeError("disk on fire")


class Colour(enum.Enum):
    RED = "red"


class Structured(Tool):
    name = "structured"
    description = "Returns data, not text."

    async def call(self) -> dict:
        return {"colour": Colour.RED, "address": Address(street="1 Main St", city="Oslo"), "ids": {3}}


async def test_valid_call_gets_models_and_result():
    result = await Register().run(
        person={"name": "Ada", "home": {"street": "x", "city": "London"}}, tags=["a"]
    )
    assert result == ToolResult(content="Ada in London", metadata={"tags": ["a"]})


async def test_invalid_arguments_are_an_error_result_naming_the_field():
    result = await Register().run(person={"name": "Ada", "home": {"street": "x"}})
    assert result.error and result.metadata["kind"] == "invalid_arguments"
    assert "person.home.city" in result.content and "Field required" in result.content
    assert "Fix the arguments" in result.content


async def test_unknown_argument_is_rejected_when_the_model_forbids_extras():
    class Strict(Tool):
        name = "strict"

        async def call(self) -> str:
            return "ok"

    result = await Strict().run(surprise=1)
    assert result.error and "surprise" in result.content


async def test_timeout_is_an_error_result():
    result = await Slow().run()
    assert result.error and result.metadata["kind"] == "timeout"
    assert "0.05 s" in result.content


async def test_exception_in_tool_is_an_error_result():
    result = await Broken().run()
    assert result.error and result.metadata["kind"] == "exception"
    assert "RuntimeError: disk on fire" in result.content


async def test_non_text_return_values_are_json():
    result = await Structured().run()
    assert json.loads(result.content) == {
        "colour": "red",
        "address": {"street": "1 Main St", "city": "Oslo"},
        "ids": [3],
    }


def test_definition_inlines_nested_models_and_drops_titles():
    params = Register().definition.parameters
    assert "$defs" not in params and "title" not in json.dumps(params)
    home = params["properties"]["person"]["properties"]["home"]
    assert home["properties"]["city"] == {"type": "string", "description": "City name"}
    assert home["required"] == ["street", "city"]
    # Optional nested model: anyOf [object, null], with the object inlined
    work = params["properties"]["person"]["properties"]["work"]
    assert {"type": "null"} in work["anyOf"]
    assert any(option.get("properties", {}).get("street") for option in work["anyOf"])
    assert params["required"] == ["person"]


def test_compact_schema_keeps_recursive_definitions():
    schema = compact_schema(Node.model_json_schema())
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert schema["$defs"]["Node"]["properties"]["value"] == {"type": "integer"}


def test_compact_schema_keeps_a_property_called_title_and_data_values():
    schema = {
        "type": "object",
        "title": "Args",
        "properties": {"title": {"type": "string", "title": "Title", "default": {"title": "kept"}}},
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string", "default": {"title": "kept"}}},
    }


async def test_json_schema_tool_validates_with_jsonschema():
    class Echo(JSONSchemaTool):
        async def call(self, **arguments):
            return arguments

    echo = Echo(
        "echo",
        "Echo.",
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 1}, "mode": {"enum": ["a", "b"]}},
            "required": ["n"],
        },
    )
    assert (await echo.run(n=2, mode="a")).content == '{"n": 2, "mode": "a"}'
    bad = await echo.run(n=0, mode="c")
    assert bad.error and bad.metadata["kind"] == "invalid_arguments"
    assert "n: 0 is less than the minimum of 1" in bad.content and "mode: 'c' is not one of" in bad.content
    missing = await echo.run()
    assert missing.error and "'n' is a required property" in missing.content
    assert echo.definition.parameters["required"] == ["n"]


def test_attachment_round_trips_through_json():
    result = ToolResult(
        content="plot", attachments=[Attachment(name="a.png", mime_type="image/png", data=b"\x89PNG")]
    )
    again = ToolResult.model_validate_json(result.model_dump_json())
    assert again.attachments[0].data == b"\x89PNG"


async def test_a_tools_own_timeout_error_is_not_mistaken_for_the_deadline():
    class Impatient(Tool):
        name = "impatient"
        timeout = None  # no deadline at all

        async def call(self) -> str:
            raise TimeoutError("upstream gave up")

    result = await Impatient().run()
    assert result.error and result.metadata["kind"] == "exception"
    assert "TimeoutError: upstream gave up" in result.content


def test_importing_the_package_leaves_heavy_and_foreign_modules_unloaded():
    probe = (
        "import sys, llamasys.tools as t\n"
        "heavy = ['mcp', 'langchain_core', 'ddgs', 'llamasys.tools.code_interpreter', 'llamasys.tools.memory']\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "t.MCPToolset, t.from_langchain, t.CodeInterpreter\n"
        "print([m for m in heavy[:2] if m not in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "[]"]
