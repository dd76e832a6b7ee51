"""`llamasys distill generate|train|export`: verified synthetic tool-use data and LoRA distillation.

llamasys distill generate --seed 17 --count 3000 --out ~/.cache/llamasys/distill/data-s17
llamasys distill train --data ~/.cache/llamasys/distill/data-s17 --run ~/.cache/llamasys/distill/run-s17
llamasys distill train ... (the same command again continues from the last checkpoint)
llamasys distill export --run ~/.cache/llamasys/distill/run-s17 --out core_model/checkpoints/adapters/smollm2-135m-tools
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import app

distill_app = typer.Typer(help="Synthetic tool-use data and LoRA distillation.", no_args_is_help=True)
app.add_typer(distill_app, name="distill")


@distill_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option(help="dataset folder to write")],
    seed: Annotated[int, typer.Option(help="the data is a function of the seed")] = 0,
    count: Annotated[int, typer.Option(help="examples to draw (dropped ones are not replaced)")] = 1000,
    model: Annotated[
        str, typer.Option(help="model whose chat format renders the data")
    ] = "smollm2-135m-instruct",
    instructions: Annotated[str | None, typer.Option(help="system prompt (default: the agent's)")] = None,
    mix: Annotated[
        str | None,
        typer.Option(
            help="shares of the kinds, e.g. 'irrelevant=0.3,custom=0.2' (unnamed kinds keep the default)"
        ),
    ] = None,
    optional_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="chance that a catalogue call sets each optional parameter"),
    ] = 0.35,
    number_style_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="chance that a catalogue request writes its numbers as typed: '$1,200', '70kg', '5%'",
        ),
    ] = 0.0,
    teacher: Annotated[
        str | None, typer.Option(help="teacher mode: a stronger model (catalogue id or path) answers")
    ] = None,
    teacher_url: Annotated[
        str | None, typer.Option(help="teacher on an OpenAI-compatible server (--teacher names its model)")
    ] = None,
    teacher_batch: Annotated[
        int, typer.Option(min=1, help="teacher mode: items in flight at once, their requests sent together")
    ] = 8,
) -> None:
    """Generate verified examples; writes examples.jsonl, tokens.jsonl and manifest.json."""
    from llamasys.apps.distill.generate import (
        GenerateConfig,
        bfcl_function_names,
        generate,
        parse_mix,
        write_dataset,
    )
    from llamasys.apps.eval.agent_tasks import held_out_prompts
    from llamasys.core_model.chat import make_chat_format
    from llamasys.core_model.checkpoints import read_tokenizer

    tokenizer, template = read_tokenizer(model)
    chat_format = make_chat_format(tokenizer, template)
    config = GenerateConfig(seed=seed, count=count, avoid_names=sorted(bfcl_function_names()),
                            avoid_prompts=sorted(held_out_prompts()), optional_rate=optional_rate,
                            number_style_rate=number_style_rate)  # fmt: skip
    if instructions:
        config.instructions = instructions
    if mix:
        config.mix = parse_mix(mix)
    if teacher or teacher_url:
        from llamasys.apps.distill.teacher import teacher_generate
        from llamasys.apps.eval.bfcl import EngineModel, OpenAIToolModel

        if teacher_url:
            if not teacher:
                raise typer.BadParameter("--teacher-url needs --teacher MODEL_NAME (the served model)")
            tool_model = OpenAIToolModel(base_url=teacher_url, model=teacher)
        else:
            from llamasys.core_model import load_model

            tool_model = EngineModel(load_model(teacher, max_batch_size=teacher_batch))
        examples, report = asyncio.run(
            teacher_generate(
                config, tool_model, chat_format=chat_format, batch_size=teacher_batch, progress=True
            )
        )
    else:
        examples, report = asyncio.run(generate(config, chat_format=chat_format, progress=True))
    manifest = write_dataset(out.expanduser(), examples, report, chat_format, config)
    typer.echo(json.dumps({"out": str(out), **manifest["report"], "tokens": manifest["tokens"]}, indent=2))


@distill_app.command("train")
def train_command(
    data: Annotated[Path, typer.Option(help="dataset folder from `distill generate`")],
    run: Annotated[Path, typer.Option(help="run folder for checkpoints (continued when it exists)")],
    rank: int = 8,
    alpha: int = 16,
    lr: float = 5e-4,
    epochs: float = 2.0,
    seq_len: int = 1536,
    warmup_steps: int = 10,
    checkpoint_minutes: float = 5.0,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many steps in all")] = None,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads")] = None,
    init_adapter: Annotated[
        Path | None, typer.Option(help="start from this adapter (a second round) instead of a fresh LoRA")
    ] = None,
) -> None:
    """LoRA training with assistant-only loss; checkpoints every few minutes; rerun to resume."""
    from llamasys.apps.distill.train import TrainConfig, train

    config = TrainConfig(
        data=data.expanduser(), run_dir=run.expanduser(), rank=rank, alpha=alpha, lr=lr, epochs=epochs,
        seq_len=seq_len, warmup_steps=warmup_steps, checkpoint_minutes=checkpoint_minutes, max_steps=max_steps,
        seed=seed, device=device, threads=threads, init_adapter=init_adapter,
    )  # fmt: skip
    state = train(config)
    typer.echo(json.dumps(state, indent=2))


@distill_app.command("export")
def export_command(
    run: Annotated[Path, typer.Option(help="run folder of `distill train`")],
    out: Annotated[Path, typer.Option(help="adapter folder to write")],
) -> None:
    """Copy the run's latest adapter (float16) with its provenance into a folder."""
    from llamasys.apps.distill.export import export_adapter

    command = "llamasys distill export " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    provenance = export_adapter(run, out, commands=[command])
    typer.echo(
        json.dumps({"out": str(out), "checkpoint": provenance["checkpoint"], **provenance["state"]}, indent=2)
    )
