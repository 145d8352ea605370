"""The ``maint`` command: every feature of the project is reachable from here."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer
from pydantic import ValidationError

from eval.cli import evaluate
from finetune.cli import app as finetune_app
from graph.cli import app as graph_app
from infra.backup_cli import backup, restore
from infra.cli import app as services_app
from ingestion.cli import documents_app, ingest
from maint import __version__
from maint.output import err
from maint.process import setup
from maint.settings import Settings
from serving.api.serve import serve
from serving.cli import ask

app = typer.Typer(
    name="maint",
    help="Air-gapped maintenance assistant: ingest manuals, inspect what was stored, and "
    "ask grounded questions with citations.\n\nWith nothing configured, maint runs on embedded "
    "PostgreSQL+pgvector and FalkorDB servers under its data dir (MAINT_DATA_DIR). Point "
    "MAINT_DATABASE_URL and MAINT_GRAPH_URI at external servers for production.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar="MAINT_DATA_DIR",
        help="Workspace folder for the embedded stores and caches.",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    overrides = {"data_dir": data_dir} if data_dir else {}
    try:
        ctx.obj = Settings(**overrides)
    except ValidationError as exc:  # a setting's own message, not a traceback
        for error in exc.errors():
            prefix = Settings.model_config["env_prefix"]
            name = prefix + "_".join(str(part) for part in error["loc"]).upper()
            err.print(
                f"maint: {name}={error.get('input')!r} is not valid: {error['msg']}. Fix it in "
                "the environment or the MAINT_CONFIG file.",
                markup=False,
                highlight=False,
            )
        raise typer.Exit(2) from None


app.command("ingest")(ingest)
app.command("ask")(ask)
app.command("serve")(serve)
app.command("eval")(evaluate)
app.command("backup")(backup)
app.command("restore")(restore)
app.add_typer(documents_app, name="documents")
app.add_typer(graph_app, name="graph")
app.add_typer(services_app, name="services")
app.add_typer(finetune_app, name="finetune")

# A paragraph whose lines start like these is laid out by hand (a list, a table, code).
_LAID_OUT = re.compile(r"^(\s|[-*|•\b]|\d+[.)] )")


def reflow(text: str) -> str:
    """Join the hard-wrapped lines of each prose paragraph of a docstring.

    Typer's rich help keeps single newlines, so a docstring wrapped at 95 columns came out
    as ragged lines on an 80-column terminal; the terminal should do the wrapping.
    """
    paragraphs = text.split("\n\n")
    return "\n\n".join(
        p if any(_LAID_OUT.match(line) for line in p.splitlines()[1:]) else " ".join(p.split("\n"))
        for p in paragraphs
    )


def _reflow_all(command: click.Command) -> None:
    if command.help:
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        _reflow_all(sub)


def run() -> None:
    """The ``maint`` entry point: process set-up, then the Typer app with its help reflowed."""
    setup()
    command = typer.main.get_command(app)
    _reflow_all(command)
    command()


if __name__ == "__main__":
    run()
