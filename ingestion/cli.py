"""``maint ingest`` and ``maint documents``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from maint.output import cli_errors, emit_json, err, human, progress_bar
from maint.settings import Settings

if TYPE_CHECKING:
    from ingestion.catalog import DocumentCatalog
    from maint.domain import DocumentRecord

_STYLE = {
    "added": "green",
    "updated": "cyan",
    "unchanged": "dim",
    "failed": "bold red",
    "skipped": "yellow",
}


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., help="Manual files or folders (PDF, HTML, Markdown, text). Folders are walked."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Ingest manuals: parse, chunk, embed, extract facts, store.

    Unchanged files (same content hash) are skipped; a changed file replaces its previous
    version in one go. A file that cannot be read gets one line saying why and what to do;
    the rest of the batch is ingested and the exit code is 1.
    """
    from infra.services import stores
    from ingestion.pipeline import Ingestor, discover
    from maint.embed import embedder_for

    settings: Settings = ctx.obj
    with cli_errors():
        files = list(discover(paths))
        err.print(f"Opening the stores ({settings.data_dir}) …")
        embedder = embedder_for(settings)
        with (
            stores(settings) as (pg, graph),
            progress_bar() as progress,
        ):
            task = progress.add_task("Ingesting", total=len(files))

            def started(path: Path) -> None:
                progress.update(task, description=f"Ingesting {path.name[:40]}")

            def done(result) -> None:
                progress.advance(task)
                style = _STYLE[result.status]
                line = f"[{style}]{result.status:>9}[/] {result.path}"
                if result.reason:
                    line += f": {result.reason} — {result.hint}"
                if blank := len(result.pages_without_text):
                    line += f" ({blank} page{'s' * (blank > 1)} without text: scanned images)"
                err.print(line, highlight=False)

            summary = Ingestor(settings, pg, graph, embedder).ingest(paths, started, done)
    data = summary.to_dict()
    if as_json:
        emit_json(data)
    else:
        _print_summary(data)
    if summary.failed:
        raise typer.Exit(1)


def _print_summary(data: dict) -> None:
    console = human(False)
    docs = data["documents"]
    t = data["timings"]
    if data["recovered"]:
        console.print(
            f"Recovered from an interrupted run: removed {len(data['recovered'])} "
            "half-written document(s)."
        )
    console.print(
        f"[bold]Documents[/]: {docs['added']} added, {docs['updated']} updated, "
        f"{docs['unchanged']} unchanged, {docs['failed']} failed, {docs['skipped']} skipped "
        f"in {data['seconds']:.1f} s"
    )
    console.print(
        f"[bold]Stored[/]: {data['pages']} pages, {data['chunks']} chunks, "
        f"{data['entities']} entities, {data['relations']} relations"
    )
    console.print(
        f"[bold]Stages[/]: parse {t['parse']:.1f} s · extract {t['extract']:.1f} s · "
        f"embed {t['embed']:.1f} s · vector store {t['vector_store']:.1f} s · "
        f"graph {t['graph']:.1f} s"
    )


documents_app = typer.Typer(help="List, show and delete ingested documents.", no_args_is_help=True)


@documents_app.command("list")
def list_documents(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """List ingested documents."""
    with cli_errors(), _catalog(ctx.obj, graph=False) as catalog:
        docs = catalog.list()
    if as_json:
        emit_json([d.model_dump() for d in docs])
        return
    table = Table(title=f"{len(docs)} documents")
    table.add_column("id", no_wrap=True)
    table.add_column("title", ratio=1)
    for col in ("format", "pages", "chunks"):
        table.add_column(col, justify="right" if col != "format" else "left")
    table.add_column("ingested (UTC)", no_wrap=True)
    for d in docs:
        table.add_row(
            d.id,
            d.title,
            d.format,
            str(d.pages),
            str(d.chunks),
            (d.ingested_at or "")[:16].replace("T", " "),
        )
    human(False).print(table)


@contextlib.contextmanager
def _catalog(settings: Settings, graph: bool = True) -> Iterator[DocumentCatalog]:
    """The document catalog on the stores (the graph only when asked for)."""
    from infra.services import open_pgstore, stores
    from ingestion.catalog import DocumentCatalog

    if not graph:
        pg = open_pgstore(settings)
        try:
            yield DocumentCatalog(pg)
        finally:
            pg.close()
        return
    with stores(settings) as (pg, graph_store):
        yield DocumentCatalog(pg, graph_store)


def _resolve(catalog: DocumentCatalog, doc_id: str) -> DocumentRecord:
    from ingestion.catalog import AmbiguousDocumentId, DocumentNotFound

    try:
        return catalog.resolve(doc_id)
    except (DocumentNotFound, AmbiguousDocumentId) as exc:
        err.print(f"[bold red]error:[/] {exc}; see `maint documents list`")
        raise typer.Exit(1) from None


@documents_app.command("show")
def show_document(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., help="Document id, or a unique prefix of it."),
    chunks: bool = typer.Option(False, "--chunks", help="Also print every chunk's text."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a document: its metadata, chunks and the facts read from it."""
    with cli_errors(), _catalog(ctx.obj) as catalog:
        doc = _resolve(catalog, doc_id)
        rows = catalog.chunks(doc.id)
        facts = catalog.fact_counts(doc.id)
    if as_json:
        emit_json({**doc.model_dump(), "facts": facts, "chunk_list": rows})
        return
    console = human(False)
    console.print(f"[bold]{doc.title}[/]")
    console.print(f"id {doc.id} · {doc.format} · {doc.pages} pages · {doc.bytes} bytes")
    console.print(f"source {doc.source_path}")
    console.print(f"sha256 {doc.sha256} · ingested {doc.ingested_at}")
    console.print("facts: " + ", ".join(f"{n} {label}" for label, n in sorted(facts.items())))
    table = Table(title=f"{len(rows)} chunks")
    for col in ("#", "pages", "tokens", "section"):
        table.add_column(col, overflow="fold")
    for r in rows:
        pages = f"{r['page_start']}–{r['page_end']}" if r["page_start"] else ""
        table.add_row(str(r["ordinal"]), pages, str(r["tokens"]), r["section_path"])
    console.print(table)
    if chunks:
        for r in rows:
            console.rule(f"chunk {r['ordinal']} · {r['section_path']}")
            console.print(r["text"], highlight=False, markup=False)


@documents_app.command("delete")
def delete_document(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., help="Document id, or a unique prefix of it."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete a document: its chunks, and the graph facts only it supported."""
    with cli_errors(), _catalog(ctx.obj) as catalog:
        doc = _resolve(catalog, doc_id)
        if not yes:
            if not sys.stdin.isatty():
                err.print("[bold red]error:[/] not a terminal; pass --yes to delete")
                raise typer.Exit(1)
            typer.confirm(f"Delete {doc.title!r} ({doc.id})?", abort=True)
        catalog.delete(doc.id)
    if as_json:
        emit_json({"deleted": doc.model_dump()})
    else:
        human(False).print(f"Deleted {doc.title} ({doc.id}).")
