"""The LoRA trainer on a tiny random model: packing is exact, training lowers the loss, resume continues."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from llamasys.apps.distill.generate import DEFAULT_MIX
from llamasys.apps.distill.train import (
    Pack,
    TrainConfig,
    build_packs,
    iter_metrics,
    load_base_model,
    pack_loss,
    train,
)
from llamasys.core_model.testing import random_meta_state_dict, tiny_args, write_hf_checkpoint


def _examples(n: int, seed: int = 0) -> list[dict]:
    """Rendered-example dicts: two shared system prompts plus some unique ones, assistant spans at the end."""
    rng = random.Random(seed)
    prompts = [[rng.randrange(1, 280) for _ in range(rng.randint(6, 12))] for _ in range(2)]
    out = []
    for i in range(n):
        prefix = prompts[i % 2] if i % 3 else [rng.randrange(1, 280) for _ in range(7)]
        user = [rng.randrange(1, 280) for _ in range(rng.randint(3, 8))]
        answer = [rng.randrange(1, 280) for _ in range(rng.randint(2, 6))]
        tokens = prefix + user + answer
        out.append({"id": f"e{i}", "kind": "t", "tokens": tokens, "spans": [(len(prefix) + len(user), len(tokens))],
                    "prefix_len": len(prefix)})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    args = tiny_args(tie_word_embeddings=True)
    return write_hf_checkpoint(
        tmp_path_factory.mktemp("base") / "hf", args, random_meta_state_dict(args, seed=1)
    )


def test_packs_hold_every_example_once_with_its_targets():
    examples = _examples(20)
    packs = build_packs(examples, seq_len=64, rng=random.Random(0))
    assert sum(p.examples for p in packs) == 20
    assert all(len(p.tokens) <= 64 for p in packs)
    assert sum(len(p.targets) for p in packs) == sum(b - a for e in examples for a, b in e["spans"])
    shared = sum(len(p.tokens) for p in packs)
    assert shared < sum(len(e["tokens"]) for e in examples)  # shared prompts are stored once per row
    mask = packs[0].attention_mask()[0, 0]
    assert mask.dtype == torch.bool and not mask.triu(1).any()  # causal


def test_packed_loss_equals_one_example_at_a_time(tiny_base):
    from peft import LoraConfig, get_peft_model

    model, _ = load_base_model(str(tiny_base), torch.device("cpu"))
    model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    )
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.1)
    model.eval()
    examples = _examples(12, seed=3)
    with torch.no_grad():
        total = count = 0.0
        for pack in build_packs(examples, seq_len=128, rng=random.Random(1)):
            loss, n = pack_loss(model, pack, torch.device("cpu"))
            total, count = total + loss.item() * n, count + n
        single_total = single_count = 0.0
        for e in examples:
            (pack,) = build_packs([e], seq_len=128, rng=random.Random(0))
            loss, n = pack_loss(model, pack, torch.device("cpu"))
            single_total, single_count = single_total + loss.item() * n, single_count + n
    assert count == single_count
    assert total / count == pytest.approx(single_total / single_count, rel=1e-5)


def test_train_checkpoints_and_resumes(tiny_base, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    examples = _examples(24, seed=5)
    (data / "tokens.jsonl").write_text("".join(json.dumps(e) + "\n" for e in examples))
    config = TrainConfig(data=data, run_dir=tmp_path / "run", base=str(tiny_base), rank=4, alpha=8, lr=3e-3,
                         warmup_steps=1, seq_len=64, max_steps=3, checkpoint_minutes=60.0, epochs=30)  # fmt: skip
    state = train(config, progress=False)
    assert state["step"] == 3
    latest = tmp_path / "run" / "latest"
    assert (latest / "adapter" / "adapter_model.safetensors").exists()
    assert json.loads((latest / "state.json").read_text())["step"] == 3
    state = train(config.model_copy(update={"max_steps": 16}), progress=False)
    assert state["step"] == 16
    losses = [r["loss"] for r in iter_metrics(tmp_path / "run")]
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4  # it learns the (memorisable) answers
    with pytest.raises(ValueError, match="other settings"):
        train(config.model_copy(update={"lr": 1e-3}), progress=False)


def test_pack_attention_mask_sees_prompt_and_own_turns_only():
    pack = Pack(tokens=[1, 2, 3, 4, 5, 6], positions=[0, 1, 2, 2, 3, 2], segments=[0, 0, 1, 1, 2, 3],
                parents=[-1, 0, 0, -1], targets=[], examples=2)  # fmt: skip
    mask = pack.attention_mask()[0, 0]
    assert mask[3].tolist() == [True, True, True, True, False, False]  # conversation 1: prompt + itself
    assert mask[4].tolist() == [True, True, False, False, True, False]  # conversation 2 never sees 1
    assert mask[5].tolist() == [False, False, False, False, False, True]  # another row sees nothing else


def test_second_round_starts_from_an_exported_adapter(tiny_base, tmp_path):
    from safetensors.torch import load_file

    from llamasys.apps.distill.export import export_adapter
    from llamasys.apps.distill.train import _init_from_adapter

    data = tmp_path / "data"
    data.mkdir()
    (data / "tokens.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _examples(12, seed=2)))
    first = TrainConfig(data=data, run_dir=tmp_path / "run1", base=str(tiny_base), rank=4, alpha=8, lr=3e-3,
                        warmup_steps=1, seq_len=64, max_steps=3, checkpoint_minutes=60.0, epochs=30)  # fmt: skip
    train(first, progress=False)
    exported = tmp_path / "round1"
    export_adapter(first.run_dir, exported)

    second = first.model_copy(update={"run_dir": tmp_path / "run2", "init_adapter": exported})
    model, _ = load_base_model(str(tiny_base), torch.device("cpu"))
    model = _init_from_adapter(model, second)
    saved = load_file(str(exported / "adapter_model.safetensors"))
    loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    assert len(loaded) == len(saved) > 0
    for name, tensor in saved.items():
        (match,) = [v for k, v in loaded.items() if k.replace(".default", "") == name]
        assert match.dtype == torch.float32 and match.requires_grad is False  # a state_dict copy
        torch.testing.assert_close(match, tensor.float())
    assert any(p.requires_grad for n, p in model.named_parameters() if "lora_" in n)

    state = train(second.model_copy(update={"max_steps": 2}), progress=False)
    assert state["step"] == 2
    provenance = export_adapter(second.run_dir, tmp_path / "round2")
    assert any(f"--init-adapter {exported}" in c for c in provenance["commands"])
    assert provenance["previous_round"]["checkpoint"] == "step-000003"

    with pytest.raises(ValueError, match="rank 4 != 8"):
        _init_from_adapter(load_base_model(str(tiny_base), torch.device("cpu"))[0],
                           second.model_copy(update={"rank": 8}))  # fmt: skip
    with pytest.raises(ValueError, match="no adapter_config.json"):
        _init_from_adapter(model, second.model_copy(update={"init_adapter": tmp_path}))


def test_reproduce_commands_name_the_generate_flags_that_differ_from_the_defaults():
    from llamasys.apps.distill.export import _reproduce

    config = TrainConfig(data=Path("d"), run_dir=Path("r"), lr=3e-4).model_dump(mode="json")
    mix = {"code": 0.5}
    for manifest, flags in [({"seed": 4, "count": 9}, ""), ({"seed": 4, "count": 9, "optional_rate": 0.35}, ""),
                            ({"seed": 4, "count": 9, "optional_rate": 0.6}, " --optional-rate 0.6"),
                            ({"seed": 4, "count": 9, "number_style_rate": 0.0}, ""),
                            ({"seed": 4, "count": 9, "optional_rate": 0.5, "number_style_rate": 0.3},
                             " --optional-rate 0.5 --number-style-rate 0.3"),
                            ({"seed": 4, "count": 9, "mix": {**DEFAULT_MIX, **mix}}, " --mix code=0.5")]:  # fmt: skip
        generate, train_cmd = _reproduce(config, {"config": manifest}, step=7)
        assert generate == f"llamasys distill generate --seed 4 --count 9{flags} --out d"
        assert train_cmd == "llamasys distill train --data d --run r --lr 0.0003 --max-steps 7"
