"""The typer applications every CLI module registers its commands on."""

import typer

app = typer.Typer(help="llamasys: build Llama agents safely.", no_args_is_help=True)
model_app = typer.Typer(help="List, download and verify models.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks; each prints JSON with a baseline measured in the same run.", no_args_is_help=True
)
mcp_app = typer.Typer(help="Model Context Protocol interop.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(bench_app, name="bench")
app.add_typer(mcp_app, name="mcp")
