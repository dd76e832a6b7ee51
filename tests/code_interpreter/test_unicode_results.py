"""Text that is not valid Unicode never reaches the model (issue 12, fault 5).

The case from the report: code that creates a file named with the bytes `b"caf\\xe9.txt"` and prints
`os.listdir('.')` returned `caf\\udce9.txt` (a lone surrogate); fed back to a Hugging Face tokenizer it
raised `TypeError: TextInputSequence must be str`."""

from __future__ import annotations

import pytest

from llamasys.core_model.messages import ToolResponseMessage
from llamasys.core_model.testing import tiny_args, write_hf_checkpoint
from llamasys.core_model.tokenizers.hf import HFTokenizer


@pytest.fixture(scope="module")
def hf_tokenizer(tmp_path_factory) -> HFTokenizer:
    folder = write_hf_checkpoint(tmp_path_factory.mktemp("hf"), tiny_args())
    return HFTokenizer.from_file(folder / "tokenizer.json")


CODE = "import os\nopen(b'caf\\xe9.txt', 'w').close()\nprint(os.listdir('.'))\nprint(*os.listdir('.'))"


async def test_a_file_name_that_is_not_utf8_comes_back_as_valid_text(
    bwrap_backend, make_interpreter, hf_tokenizer
):
    result = await make_interpreter(bwrap_backend).run(code=CODE)
    assert result.error is False, result.content
    assert result.content == "completed\n[stdout]\n['caf\\udce9.txt']\ncaf\ufffd.txt\n[/stdout]"
    result.content.encode("utf-8")  # no lone surrogate left
    names = [a.name for a in result.attachments]
    assert names == ["caf\ufffd.txt"]  # the written file, attached under a valid name
    message = ToolResponseMessage(call_id="1", tool_name="code_interpreter", content=result.content)
    ids = hf_tokenizer.encode(message.content, bos=False, eos=False)  # raised TypeError before
    assert hf_tokenizer.decode(ids) == message.content
