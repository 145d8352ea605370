"""``maint graph``: what the knowledge graph holds."""

from __future__ import annotations

import typer
from rich.table import Table

from maint.output import cli_errors, emit_json, human
from maint.settings import Settings

app = typer.Typer(help="Inspect the knowledge graph.", no_args_is_help=True)


@app.command()
def stats(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Count nodes per label and relations per type."""
    from infra.services import open_graph

    settings: Settings = ctx.obj
    with cli_errors():
        graph = open_graph(settings)
        try:
            counts = graph.stats()
        finally:
            graph.close()
    if as_json:
        emit_json({"backend": settings.graph_backend, **counts})
        return
    console = human(as_json)
    for title, data, col in (
        ("Nodes", counts["nodes"], "label"),
        ("Relations", counts["relations"], "type"),
    ):
        table = Table(title=f"{title} ({settings.graph_backend})")
        table.add_column(col)
        table.add_column("count", justify="right")
        for name, n in sorted(data.items()):
            table.add_row(name, str(n))
        table.add_row("[bold]total[/]", f"[bold]{sum(data.values())}[/]")
        console.print(table)
