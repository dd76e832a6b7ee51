"""LoRA fine-tuning on the generated data: assistant-only loss, shared-prefix packing, checkpoints, resume.

    >>> config = TrainConfig(data=Path("data/"), run_dir=Path("~/.cache/llamasys/distill/run1"))
    >>> train(config)                       # resumable: the same call continues from the last checkpoint

The base model is read by our own checkpoint reader (the SmolLM2 Q4_1 GGUF dequantized to float32, the
same weights the engine serves) and handed to transformers' `LlamaForCausalLM`; PEFT adds LoRA to the
linear layers named in `target_modules`. Only assistant tokens carry loss, and the output head runs only
on the positions that predict them (the hidden states of all other positions are never projected to the
vocabulary).

Packing. Examples that share a system prompt (the same instructions and tools) share its tokens: a row is
one copy of the prompt followed by several conversations, each attending to the prompt and to itself
only (a 4-D attention mask, positions restarting after the prompt), so the prompt is computed once per
row. Rows are packed into sequences of at most `seq_len` tokens, each row invisible to the others. The
result is the same loss as running each conversation alone (checked by the tests).

Checkpoints go to `run_dir` every `checkpoint_minutes` (adapter, optimizer, schedule, data position, RNG,
written to a temporary folder and renamed, so a kill never leaves a half-written checkpoint);
`metrics.jsonl` logs each step (loss, tokens, train tokens/s). `train` continues from `run_dir/latest`
when it exists.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field

__all__ = ["Pack", "TrainConfig", "build_packs", "load_base_model", "pack_loss", "train"]

log = logging.getLogger(__name__)

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class TrainConfig(BaseModel):
    """A training run. Token counts are in the model's tokens; the learning rate follows a linear warm-up
    then a cosine decay to 10% over `epochs` passes through the data; `max_steps` stops the run earlier
    without changing that schedule (so a run stopped and resumed follows the same learning rates)."""

    data: Path = Field(description="a dataset folder written by `llamasys distill generate` (tokens.jsonl)")
    run_dir: Path = Field(description="where checkpoints and metrics go (outside the repository)")
    base: str = "smollm2-135m-instruct"
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_LINEAR))
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 10
    epochs: float = 2.0
    seq_len: int = 1536
    seqs_per_step: int = 1
    checkpoint_minutes: float = 5.0
    max_steps: int | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    init_adapter: Path | None = Field(
        default=None,
        description="start from this adapter folder (a later round: rank, alpha and target modules must "
        "match) instead of a fresh LoRA; the optimizer and schedule start anew",
    )


class Pack(BaseModel):
    """One packed sequence: token ids, position ids, the segment each token belongs to, each segment's
    parent (the shared prompt it may see; -1 for none), and the token positions whose next token is a
    loss target."""

    tokens: list[int]
    positions: list[int]
    segments: list[int]
    parents: list[int]
    targets: list[int]
    examples: int

    def attention_mask(self) -> torch.Tensor:
        """[1, 1, L, L] bool: True where a query may attend to a key (causal, own segment or its parent)."""
        seg = torch.tensor(self.segments)
        parent = torch.tensor(self.parents)[seg]
        same = seg[:, None] == seg[None, :]
        sees_parent = parent[:, None] == seg[None, :]
        causal = torch.ones(len(seg), len(seg), dtype=torch.bool).tril()
        return ((same | sees_parent) & causal)[None, None]


def _read_rendered(data: Path) -> list[dict[str, Any]]:
    path = data / "tokens.jsonl" if data.is_dir() else data
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `llamasys distill generate --out {data}` first")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_packs(examples: Sequence[dict[str, Any]], seq_len: int, rng: random.Random) -> list[Pack]:
    """Pack rendered examples (dicts with tokens, spans, prefix_len) into sequences of <= seq_len tokens.

    Order is drawn from rng; examples sharing a prompt are grouped into rows (see the module docstring);
    an example longer than seq_len is dropped with a warning."""
    order = list(examples)
    rng.shuffle(order)
    groups: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    for ex in order:
        groups.setdefault(tuple(ex["tokens"][: ex["prefix_len"]]), []).append(ex)
    rows: list[tuple[tuple[int, ...], list[dict[str, Any]]]] = []
    for prefix, members in groups.items():
        row: list[dict[str, Any]] = []
        length = len(prefix)
        for ex in members:
            size = len(ex["tokens"]) - ex["prefix_len"]
            if len(prefix) + size > seq_len:
                log.warning(
                    "example %s has %d tokens, more than seq_len=%d: skipped",
                    ex["id"],
                    len(prefix) + size,
                    seq_len,
                )
                continue
            if row and length + size > seq_len:
                rows.append((prefix, row))
                row, length = [], len(prefix)
            row.append(ex)
            length += size
        if row:
            rows.append((prefix, row))
    rng.shuffle(rows)
    packs: list[Pack] = []
    current: dict[str, list[int]] = {k: [] for k in ("tokens", "positions", "segments", "parents", "targets")}
    count = 0

    def flush() -> None:
        nonlocal current, count
        if current["tokens"]:
            packs.append(Pack(**current, examples=count))
        current = {k: [] for k in current}
        count = 0

    for prefix, row in rows:
        row_len = len(prefix) + sum(len(ex["tokens"]) - ex["prefix_len"] for ex in row)
        if len(current["tokens"]) + row_len > seq_len:
            flush()
        prefix_segment = len(current["parents"])
        current["parents"].append(-1)
        current["tokens"] += list(prefix)
        current["positions"] += list(range(len(prefix)))
        current["segments"] += [prefix_segment] * len(prefix)
        for ex in row:
            segment = len(current["parents"])
            current["parents"].append(prefix_segment)
            start = len(current["tokens"])
            p = ex["prefix_len"]
            suffix = ex["tokens"][p:]
            current["tokens"] += suffix
            current["positions"] += list(range(p, p + len(suffix)))
            current["segments"] += [segment] * len(suffix)
            for a, b in ex["spans"]:
                # the token at index i (i in [a, b)) is predicted from index i - 1
                current["targets"] += [start + (i - p) - 1 for i in range(max(a, p + 1), b)]
            count += 1
    flush()
    return packs


def pack_loss(model: Any, pack: Pack, device: torch.device) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over the pack's targets and their count. `model` is a (PEFT-wrapped)
    `LlamaForCausalLM`; the output head runs on the target positions only."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    tokens = torch.tensor([pack.tokens], device=device)
    out = causal_lm.model(
        input_ids=tokens,
        attention_mask=pack.attention_mask().to(device),
        position_ids=torch.tensor([pack.positions], device=device),
        use_cache=False,
    )
    where = torch.tensor(pack.targets, device=device)
    hidden = out.last_hidden_state[0, where]
    logits = causal_lm.lm_head(hidden).float()
    labels = tokens[0, where + 1]
    return torch.nn.functional.cross_entropy(logits, labels), len(pack.targets)


def load_base_model(base: str, device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """(transformers LlamaForCausalLM in train mode, our Checkpoint) for a catalogue id, folder or file."""
    from llamasys.apps.bench.baselines import transformers_model
    from llamasys.core_model.checkpoints import read_checkpoint

    checkpoint = read_checkpoint(base, dtype=torch.float32)
    model = transformers_model(checkpoint, dtype=dtype, device=device)
    model.config.use_cache = False
    return model, checkpoint


def _lr(config: TrainConfig, step: int, total: int) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, total - config.warmup_steps))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _epoch_packs(examples: list[dict[str, Any]], config: TrainConfig, epoch: int) -> list[Pack]:
    return build_packs(examples, config.seq_len, random.Random(f"{config.seed}-epoch-{epoch}"))


def _init_from_adapter(model: Any, config: TrainConfig) -> Any:
    """`model` with the LoRA weights of `config.init_adapter`, trainable; ValueError if its shape differs."""
    from peft import PeftConfig, PeftModel

    folder = Path(config.init_adapter).expanduser()
    if not (folder / "adapter_config.json").exists():
        raise ValueError(f"--init-adapter {folder}: no adapter_config.json there (a `distill export` folder)")
    saved = PeftConfig.from_pretrained(str(folder))
    mismatched = [
        f"{name} {theirs} != {ours}"
        for name, theirs, ours in (
            ("rank", saved.r, config.rank),
            ("alpha", saved.lora_alpha, config.alpha),
            ("target_modules", sorted(saved.target_modules), sorted(config.target_modules)),
        )
        if theirs != ours
    ]
    if mismatched:
        raise ValueError(f"--init-adapter {folder} does not match this run: {'; '.join(mismatched)}")
    return PeftModel.from_pretrained(model, str(folder), is_trainable=True)


def _save(run_dir: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> Path:
    tmp = run_dir / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp / "adapter")
    torch.save(
        {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()}, tmp / "optimizer.pt"
    )
    (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    final = run_dir / f"step-{state['step']:06d}"
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    latest = run_dir / "latest"
    tmp_link = run_dir / ".latest-tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(final.name)
    tmp_link.replace(latest)
    for old in sorted(run_dir.glob("step-*"))[:-3]:  # keep the last three
        shutil.rmtree(old, ignore_errors=True)
    return final


def train(config: TrainConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run (or continue) training until `epochs` or `max_steps`; returns the final state dict."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from tqdm import tqdm

    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir = config.run_dir.expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    latest = run_dir / "latest"
    saved_config = run_dir / "config.json"
    if latest.exists() and saved_config.exists():
        previous = TrainConfig.model_validate_json(saved_config.read_text(encoding="utf-8"))
        keep = {"max_steps", "checkpoint_minutes", "threads", "device", "epochs"}
        changed = [
            k
            for k in TrainConfig.model_fields
            if k not in keep and getattr(previous, k) != getattr(config, k)
        ]
        if changed:
            raise ValueError(
                f"{run_dir} holds a run with other settings ({', '.join(changed)}): use a new run_dir"
            )
    saved_config.write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")

    device = _device(config.device)
    torch.manual_seed(config.seed)
    examples = _read_rendered(config.data)
    model, _ = load_base_model(config.base, device)
    if latest.exists():
        model = PeftModel.from_pretrained(model, latest / "adapter", is_trainable=True)
        state = json.loads((latest / "state.json").read_text(encoding="utf-8"))
        log.info("resuming from %s (step %d)", latest.resolve().name, state["step"])
    elif config.init_adapter is not None:
        model = _init_from_adapter(model, config)
        state = {"step": 0, "epoch": 0, "pack": 0, "tokens": 0, "examples": 0, "seconds": 0.0}
    else:
        lora = LoraConfig(
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=config.target_modules,
            bias="none",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
        state = {"step": 0, "epoch": 0, "pack": 0, "tokens": 0, "examples": 0, "seconds": 0.0}
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if latest.exists():
        saved = torch.load(latest / "optimizer.pt", weights_only=False)
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
    packs = _epoch_packs(examples, config, state["epoch"])
    steps_per_epoch = math.ceil(len(packs) / config.seqs_per_step)
    total = math.ceil(steps_per_epoch * config.epochs)  # the schedule's length
    stop = min(total, config.max_steps) if config.max_steps else total
    metrics = (run_dir / "metrics.jsonl").open("a", encoding="utf-8")
    last_save = time.monotonic()
    bar = tqdm(total=stop, initial=state["step"], desc="train", disable=not progress)
    try:
        while state["step"] < stop:
            if state["pack"] >= len(packs):
                state["epoch"] += 1
                state["pack"] = 0
                packs = _epoch_packs(examples, config, state["epoch"])
            batch = packs[state["pack"] : state["pack"] + config.seqs_per_step]
            started = time.perf_counter()
            lr = _lr(config, state["step"], total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            n_targets = sum(len(p.targets) for p in batch)
            loss_sum = 0.0
            for pack in batch:
                loss, n = pack_loss(model, pack, device)
                (loss * n / n_targets).backward()
                loss_sum += loss.item() * n
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            elapsed = time.perf_counter() - started
            tokens = sum(len(p.tokens) for p in batch)
            state["step"] += 1
            state["pack"] += len(batch)
            state["tokens"] += tokens
            state["examples"] += sum(p.examples for p in batch)
            state["seconds"] += elapsed
            record = {
                "step": state["step"], "epoch": state["epoch"], "loss": round(loss_sum / n_targets, 4),
                "lr": lr, "tokens": tokens, "targets": n_targets, "seconds": round(elapsed, 2),
                "train_tokens_per_s": round(tokens / elapsed, 1), "time": time.time(),
            }  # fmt: skip
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            bar.update(1)
            bar.set_postfix(loss=record["loss"], tok_s=record["train_tokens_per_s"])
            if time.monotonic() - last_save >= config.checkpoint_minutes * 60 or state["step"] >= stop:
                _save(run_dir, model, optimizer, state)
                last_save = time.monotonic()
    finally:
        bar.close()
        metrics.close()
    return state


def iter_metrics(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The per-step records of a run's metrics.jsonl."""
    path = run_dir.expanduser() / "metrics.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)
