"""Command output conventions: ``--json`` puts one JSON document on stdout; human text and
progress go to stderr when JSON is asked for, to stdout otherwise."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from maint.errors import MaintError

err = Console(stderr=True)
out = Console()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def progress_bar(*more: ProgressColumn) -> Progress:
    """The progress bar of long commands, on stderr; off when stderr is not a terminal
    (logs and pipes get lines from the command instead)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        *more,
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def human(as_json: bool) -> Console:
    return err if as_json else out


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """maint's own errors (and a missing file) end the command with their message, not a
    traceback."""
    try:
        yield
    except (MaintError, FileNotFoundError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print(
            "[yellow]interrupted.[/] The stores are consistent; run the command again to finish."
        )
        raise typer.Exit(130) from None
