"""Any valid Python parameter name round-trips through `@tool` (issue 12, fault 4).

The case from the report: `configure(model_config: str)` got an empty schema and every call was
rejected as "extra inputs", because pydantic reserves `model_config` on its models. The kind: names
pydantic reserves, refuses or shadows (its members, `_private`, dunders, `create_model`'s own keyword
arguments) and names our own call path uses (`self`, `arguments`) — each appears in the schema and
reaches the function with the value the model sent."""

from __future__ import annotations

import asyncio
import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from llamasys.tools import tool
from llamasys.tools.langchain_interop import from_langchain, to_langchain


def _tool_with(name: str):
    """`@tool def echo(<name>: str, other: int = 1) -> str` returning what it received."""
    namespace: dict = {}
    exec(  # noqa: S102 (builds a function whose parameter has a generated name)
        f"def echo({name}: str, other: int = 1) -> str:\n"
        f'    """Echo.\n\n    Args:\n        {name}: the value to echo\n    """\n'
        f"    return f'{{{name}}}|{{other}}'\n",
        namespace,
    )
    return tool(namespace["echo"])


def _round_trips(name: str) -> None:
    echo = _tool_with(name)
    schema = echo.definition.parameters
    assert list(schema["properties"]) == [name, "other"], schema
    assert schema["required"] == [name]
    assert schema["properties"][name]["description"] == "the value to echo"
    result = asyncio.run(echo.run(**{name: "sent", "other": 7}))
    assert (result.error, result.content) == (False, "sent|7"), result
    missing = asyncio.run(echo.run(other=7))
    assert missing.error and f"{name}: Field required" in missing.content
    internal = "p1" if name == "p0" else "p0"  # the fields' internal names stay hidden
    extra = asyncio.run(echo.run(**{name: "sent", internal: 1}))
    assert extra.error and f"{internal}: Extra inputs are not permitted" in extra.content
    assert echo("direct") == "direct|1"  # still the plain function


def test_the_reported_case():
    @tool
    def configure(model_config: str) -> str:
        """Set the model configuration."""
        return model_config

    assert configure.definition.parameters["properties"] == {"model_config": {"type": "string"}}
    result = asyncio.run(configure.run(model_config="fast"))
    assert (result.error, result.content) == (False, "fast")


RESERVED = sorted(
    {name for name in dir(BaseModel) if name.isidentifier() and not keyword.iskeyword(name)}
    | {
        "model_config", "model_fields", "model_dump", "model_validate", "model_post_init", "schema", "json",
        "dict", "copy", "construct", "validate", "fields", "_private", "_", "__dunder__", "__config__",
        "__base__", "__module__", "__validators__", "__doc__", "__cls_kwargs__", "self", "cls", "arguments",
        "fn", "name", "description", "timeout", "Arguments", "definition", "run", "call", "p0", "p1",
        "città", "数量",
    }
)  # fmt: skip


@pytest.mark.parametrize("name", RESERVED)
def test_names_pydantic_or_our_call_path_reserve(name):
    _round_trips(name)


_IDENTIFIERS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z").filter(
    lambda s: not keyword.iskeyword(s) and s not in {"other", "echo", "f"}
)


@settings(max_examples=60, deadline=None)
@given(name=_IDENTIFIERS)
def test_any_identifier_round_trips(name):
    _round_trips(name)


def test_a_field_default_keeps_its_description_and_the_authors_alias():
    @tool
    def send(
        model_fields: int = Field(2, description="how many"),
        from_: str = Field("me", alias="from", description="sender"),
    ) -> str:
        """Send."""
        return f"{model_fields} {from_}"

    props = send.definition.parameters["properties"]
    assert props == {
        "model_fields": {"default": 2, "description": "how many", "type": "integer"},
        "from": {"default": "me", "description": "sender", "type": "string"},
    }
    assert asyncio.run(send.run(model_fields=3, **{"from": "you"})).content == "3 you"


def test_langchain_sees_the_parameter_names():
    lc = to_langchain(_tool_with("model_config"))
    assert set(lc.args) == {"model_config", "other"}
    assert lc.invoke({"model_config": "x"}) == "x|1"
    back = from_langchain(lc)
    assert asyncio.run(back.run(model_config="y", other=2)).content == "y|2"
