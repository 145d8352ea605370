"""``maint backup DIR`` and ``maint restore DIR`` (the work is in ``infra.backup``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from maint.output import cli_errors, emit_json, err, human, progress_bar
from maint.settings import Settings


class _Bar:
    """``infra.backup.Reporter`` on a rich progress bar (stderr, only on a terminal)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task: Any = None

    def stage(self, name: str, total: int | None = None) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


class _Quiet:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def _bar() -> Iterator[_Bar | _Quiet]:
    """A progress bar on a terminal; nothing (not even a blank line) otherwise."""
    if not err.is_terminal:
        yield _Quiet()
        return
    with progress_bar() as progress:
        yield _Bar(progress)


def _stores(settings: Settings) -> str:
    if settings.embedded_postgres and settings.embedded_graph:
        return f"the stores of {settings.data_dir}"
    return "the configured stores"


@contextlib.contextmanager
def _backup_errors(interrupted: str) -> Iterator[None]:
    """Backup errors end the command with their message, unwrapped (exit 1); Ctrl-C says
    what state the stores or folder are in (exit 130). Other errors are ``cli_errors``'s."""
    from infra.backup import BackupError

    with cli_errors():
        try:
            yield
        except KeyboardInterrupt:
            err.print(f"[yellow]interrupted.[/] {interrupted}")
            raise typer.Exit(130) from None
        except BackupError as exc:  # before cli_errors, which would wrap the long paths
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


def backup(
    ctx: typer.Context,
    directory: Path = typer.Argument(
        ...,
        metavar="DIR",
        help="Folder to write the backup into; created if missing, must be empty.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty folder, replacing a backup there."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON on stdout."),
) -> None:
    """Back up both stores into DIR: a pg_dump of maint's tables, the graph as JSON Lines,
    and manifest.json (version, time, counts, sha256 of each file).

    Run it while nothing is being ingested: the database dump is one snapshot, the graph
    export is read as it stands. Restore with `maint restore DIR`.
    """
    from infra.backup import backup as run_backup

    settings: Settings = ctx.obj
    err.print(f"Backing up {_stores(settings)} into {directory} …")
    with (
        _backup_errors(f"No backup was written to {directory}; run the command again."),
        _bar() as bar,
    ):
        manifest = run_backup(settings, directory, force=force, reporter=bar)
    if as_json:
        emit_json(manifest)
        return
    console = human(False)
    pg, graph = manifest["postgres"], manifest["graph"]
    seconds = sum(manifest["timings"].values())
    console.print(
        f"[bold]Backed up[/] into {manifest['directory']} in {seconds:.1f} s: "
        f"{pg['tables']['documents']} documents, {pg['tables']['chunks']} chunks, "
        f"{sum(graph['nodes'].values())} graph nodes, "
        f"{sum(graph['relations'].values())} relations ({graph['backend']})"
    )
    if pg["pending_documents"]:
        console.print(
            f"[yellow]note:[/] {pg['pending_documents']} document(s) were being ingested; "
            "the next `maint ingest` after a restore clears them"
        )
    table = Table(title="Files")
    for col in ("file", "bytes", "sha256"):
        table.add_column(col, justify="right" if col == "bytes" else "left")
    for name, meta in manifest["files"].items():
        table.add_row(name, f"{meta['bytes']:,}", meta["sha256"][:16] + "…")
    console.print(table)


def restore(
    ctx: typer.Context,
    directory: Path = typer.Argument(
        ..., metavar="DIR", help="A folder written by `maint backup`."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace what the target stores hold (they are wiped first)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON on stdout."),
) -> None:
    """Restore a backup into this workspace's stores (MAINT_DATA_DIR, or the configured
    MAINT_DATABASE_URL and MAINT_GRAPH_URI).

    Checks every file's sha256 first, and refuses stores that already hold documents or
    graph nodes unless --force. Restores PostgreSQL in one transaction, then the graph, and
    compares the counts per table, label and relation type with the backup's: exit code 1
    when any differs.
    """
    from infra.backup import restore as run_restore

    settings: Settings = ctx.obj
    err.print(f"Restoring {directory} into {_stores(settings)} …")
    with (
        _backup_errors(
            "The target stores may be partly restored; run the command again with --force."
        ),
        _bar() as bar,
    ):
        report = run_restore(settings, directory, force=force, reporter=bar)
    if as_json:
        emit_json(report)
    else:
        _print_restore(report)
    if not report["ok"]:
        raise typer.Exit(1)


def _print_restore(report: dict[str, Any]) -> None:
    console = human(False)
    b = report["backup"]
    console.print(
        f"Backup of {b['created_at']} (maint {b['maint_version']}, {b['graph_backend']}) → "
        f"{report['graph_backend']}"
    )
    table = Table(title="Restored")
    for col in ("store", "name", "expected", "restored"):
        table.add_column(col, justify="right" if col in ("expected", "restored") else "left")
    sections = [
        ("postgres", report["postgres"]),
        ("graph nodes", report["graph"]["nodes"]),
        ("graph relations", report["graph"]["relations"]),
    ]
    for store, rows in sections:
        for name, row in rows.items():
            same = row["expected"] == row["restored"]
            got = str(row["restored"]) if same else f"[bold red]{row['restored']}[/]"
            table.add_row(store, name, str(row["expected"]), got)
    console.print(table)
    if report["migrations_applied"]:
        applied = ", ".join(map(str, report["migrations_applied"]))
        console.print(f"Schema migrations applied after the restore: {applied}")
    seconds = sum(report["timings"].values())
    if report["ok"]:
        console.print(f"[green]Restored[/] in {seconds:.1f} s; every count matches the backup.")
    else:
        for line in report["mismatches"]:
            err.print(f"[bold red]mismatch:[/] {line}", highlight=False, soft_wrap=True)
