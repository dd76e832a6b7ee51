"""Export a training run's latest adapter into a folder (the repository's shipped adapter).

    >>> export_adapter(Path("~/.cache/llamasys/distill/run1"), Path("core_model/checkpoints/adapters/x"))

The folder gets PEFT's two files (`adapter_config.json`, `adapter_model.safetensors`, tensors cast to
float16 to halve the size) and `provenance.json`: the run's configuration, the step and epoch exported,
tokens and examples seen, the dataset's manifest (seed, counts, what was dropped) and the commands that
reproduce it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["export_adapter"]


def export_adapter(run_dir: Path, out: Path, *, commands: list[str] | None = None) -> dict[str, Any]:
    """Copy `run_dir/latest/adapter` to `out` as float16 safetensors plus provenance; returns the provenance.

    Raises FileNotFoundError when the run has no checkpoint yet."""
    import torch
    from safetensors.torch import load_file, save_file

    run_dir = run_dir.expanduser()
    latest = run_dir / "latest"
    if not (latest / "adapter" / "adapter_model.safetensors").exists():
        raise FileNotFoundError(
            f"{run_dir} has no checkpoint yet: let `llamasys distill train` run a few minutes"
        )
    out.mkdir(parents=True, exist_ok=True)
    tensors = load_file(str(latest / "adapter" / "adapter_model.safetensors"))
    tensors = {k: v.to(torch.float16).contiguous() for k, v in tensors.items()}
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(latest / "adapter" / "adapter_config.json", out / "adapter_config.json")
    state = json.loads((latest / "state.json").read_text(encoding="utf-8"))
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    data_manifest: dict[str, Any] = {}
    manifest_path = Path(config["data"]).expanduser() / "manifest.json"
    if manifest_path.exists():
        data_manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    previous_round: dict[str, Any] = {}
    if config.get("init_adapter"):
        previous_path = Path(config["init_adapter"]).expanduser() / "provenance.json"
        if previous_path.exists():
            previous_round = json.loads(previous_path.read_text(encoding="utf-8"))
    provenance = {
        "checkpoint": latest.resolve().name,
        "state": state,
        "train_config": config,
        "data_manifest": data_manifest,
        "commands": _reproduce(config, data_manifest, state["step"]) + list(commands or []),
    }
    if previous_round:
        provenance["previous_round"] = previous_round
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return provenance


def _reproduce(config: dict[str, Any], data_manifest: dict[str, Any], step: int) -> list[str]:
    """The generate and train commands that rebuild this adapter (flags that differ from the defaults;
    `--max-steps` stops at the exported step)."""
    from llamasys.apps.distill.train import TrainConfig

    out = []
    generated = data_manifest.get("config", {})
    if generated:
        from llamasys.apps.distill.generate import DEFAULT_MIX, GenerateConfig

        mix = generated.get("mix", DEFAULT_MIX)
        defaults = GenerateConfig()
        changed = ",".join(f"{k}={v}" for k, v in mix.items() if DEFAULT_MIX.get(k) != v)
        rates = "".join(
            f" --{key.replace('_', '-')} {generated[key]}"
            for key in ("optional_rate", "number_style_rate")
            if generated.get(key, getattr(defaults, key)) != getattr(defaults, key)
        )
        out.append(
            f"llamasys distill generate --seed {generated['seed']} --count {generated['count']}"
            + (f" --mix {changed}" if changed else "")
            + rates
            + f" --out {config['data']}"
        )
    defaults = TrainConfig(data=Path("."), run_dir=Path(".")).model_dump()
    flags = [f"--data {config['data']}", f"--run {config['run_dir']}"]
    for key in ("rank", "alpha", "lr", "epochs", "seq_len", "warmup_steps", "seed"):
        if config.get(key) != defaults[key]:
            flags.append(f"--{key.replace('_', '-')} {config[key]}")
    if config.get("init_adapter"):
        flags.append(f"--init-adapter {config['init_adapter']}")
    flags.append(f"--max-steps {step}")
    out.append("llamasys distill train " + " ".join(flags))
    return out
