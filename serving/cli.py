"""``maint ask``: grounded answers with citations, from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from maint.output import cli_errors, emit_json, err, human
from maint.settings import Settings
from serving.answering.schema import Answer


def ask(
    ctx: typer.Context,
    question: str | None = typer.Argument(
        None,
        help="The question. Leave it out to read questions from stdin, one per line "
        "(the model is loaded once).",
        show_default=False,
    ),
    mode: str = typer.Option(
        "hybrid",
        "--mode",
        "-m",
        help="rag: base model + vector/keyword search. ft: fine-tuned adapter, no retrieval "
        "(closed book). hybrid: adapter (if any) + vector + keyword + graph.",
    ),
    adapter: str | None = typer.Option(
        None,
        "--adapter",
        help="PEFT adapter (a folder, or a name under DATA_DIR/adapters) for ft/hybrid. "
        "Default: MAINT_ADAPTER.",
        show_default=False,
    ),
    show_context: bool = typer.Option(
        False, "--show-context", help="Also print the retrieved chunks given to the model."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the answer as JSON (one line per question from stdin)."
    ),
) -> None:
    """Ask the manuals a question.

    Prints the answer, its sources (document, page, section), the graph facts used, and
    whether every part number and value in it was found in those sources. When the model
    writes a part number or value the sources do not contain, the answer quotes the source
    instead and lists what was unsupported.

    Examples:

      maint ask "What torque does the impeller nut on the P-200 get?"

      maint ask --mode rag --json "Part number of the DG-450 oil filter?"

      printf 'q1\\nq2\\n' | maint ask --json
    """
    from serving.answering.factory import open_answerer
    from serving.answering.schema import MODES

    settings: Settings = ctx.obj
    if mode not in MODES:
        err.print(f"[bold red]error:[/] --mode {mode!r}: choose one of {', '.join(MODES)}")
        raise typer.Exit(2)
    if question is not None and not question.strip():
        err.print("[bold red]error:[/] the question is empty; ask e.g. 'impeller nut torque'")
        raise typer.Exit(2)
    if question is None and sys.stdin.isatty():
        err.print("Reading questions from stdin, one per line (Ctrl-D to end) …")

    with cli_errors(), open_answerer(settings) as answerer:
        questions = [question] if question is not None else _stdin_lines()
        for q in questions:
            result = answerer.ask(q, mode=mode, adapter=adapter, show_context=show_context)  # type: ignore[arg-type]
            if as_json and question is None:
                sys.stdout.write(json.dumps(result.model_dump(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            elif as_json:
                emit_json(result.model_dump())
            else:
                _print(result, human(as_json))


def _stdin_lines():
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


def _print(a: Answer, console) -> None:
    console.print(f"[bold]Q:[/] {escape(a.question)}")
    console.print(f"[bold]A:[/] {escape(a.answer)}\n")
    if a.evidence:
        console.print("[bold]Quoted from the manuals[/] (the lines the answer stands on)")
        for e in a.evidence:
            console.print(f"  [{e.n}] p. {e.pages} · {escape(e.section or e.document)}")
            console.print(f"      [italic]{escape(e.text)}[/]")
    if a.citations:
        table = Table("#", "document", "page", "section", "chunk", box=None, pad_edge=False)
        for c in a.citations:
            style = "bold" if c.cited else "dim"
            name = Path(c.source_path).name or c.document
            table.add_row(
                f"[{c.n}]", escape(name), c.pages, escape(c.section), c.chunk_id, style=style
            )
        console.print("[bold]Sources[/] (bold: cited in the answer)")
        console.print(table)
    if a.facts:
        console.print("[bold]Graph facts used[/]")
        for f in a.facts:
            console.print(f"  - {escape(f['text'])}")
    if a.verified:
        console.print(
            "[green]✓ verified:[/] every part number and value stands in the source it cites"
        )
    else:
        items = ", ".join(a.unsupported)
        console.print(f"[bold red]✗ not verified:[/] not in the sources: {escape(items)}")
        if a.draft:
            console.print(f"[dim]model draft (withheld): {escape(a.draft)}[/]")
    for w in a.warnings:
        console.print(f"[yellow]note:[/] {escape(w)}")
    if a.context:
        console.print("\n[bold]Context given to the model[/]")
        for c in a.context:
            console.print(f"[bold][{c['n']}][/] {escape(c['document'])} p. {c['pages']}")
            console.print(escape(c["text"]))
    t = a.timings
    console.print(
        f"[dim]{a.mode} · {escape(a.model)} · {t.get('total', 0):.0f} ms total, "
        f"{t.get('generate', 0):.0f} ms generating[/]\n"
    )
