"""``maint services``: the embedded servers under the data dir."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from infra.services import embedded_services
from maint.output import cli_errors, emit_json, human
from maint.settings import Settings

app = typer.Typer(
    help="Start, stop and inspect the embedded PostgreSQL and FalkorDB servers. They start "
    "on demand with any command that needs them and keep running between commands.",
    no_args_is_help=True,
)


def _show(settings: Settings, as_json: bool) -> None:
    statuses = [svc.status() for svc in embedded_services(settings)]
    if as_json:
        emit_json({"data_dir": str(settings.data_dir), "services": [asdict(s) for s in statuses]})
        return
    console = human(as_json)
    if not statuses:
        console.print("Both stores are external (MAINT_DATABASE_URL, MAINT_GRAPH_URI).")
        return
    table = Table(title=f"Embedded services in {settings.data_dir}")
    for col in ("service", "state", "pid", "address"):
        table.add_column(col)
    for s in statuses:
        state = "[green]running[/]" if s.running else "[dim]stopped[/]"
        table.add_row(s.name, state, str(s.pid or ""), s.address)
    console.print(table)


def _apply(ctx: typer.Context, action: str, as_json: bool) -> None:
    settings: Settings = ctx.obj
    with cli_errors():
        for svc in embedded_services(settings):
            getattr(svc, action)()
    _show(settings, as_json)


@app.command()
def start(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Start the embedded servers (creating them on first use)."""
    _apply(ctx, "start", as_json)


@app.command()
def stop(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Stop the embedded servers cleanly (data is kept)."""
    _apply(ctx, "stop", as_json)


@app.command()
def status(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Show whether the embedded servers are running, and where."""
    _show(ctx.obj, as_json)
