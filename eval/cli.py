"""``maint eval``: RAG-only vs fine-tuned vs hybrid on a question set, with a report folder."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import TimeRemainingColumn
from rich.table import Table

from maint.output import cli_errors, emit_json, err, human, progress_bar
from maint.settings import Settings
from serving.answering.schema import MODES

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "data" / "eval" / "dev.jsonl"
TRAIN_CONFIG = ROOT / "finetune" / "configs" / "smollm2-135m.yaml"


def evaluate(
    ctx: typer.Context,
    dataset: Path = typer.Option(
        DEV_SET,
        "--dataset",
        "-d",
        help="Questions, one JSON object per line: id, question, answer, answer_type, "
        "must_contain, evidence, doc (see data/eval/dev.jsonl and the README).",
    ),
    modes: str = typer.Option(
        "rag,ft,hybrid",
        "--modes",
        help="Comma-separated: rag (base model + search), ft (adapter, closed book), hybrid "
        "(adapter + search + graph).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Report folder [DATA_DIR/eval/<dataset>-<time>].",
        show_default=False,
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Evaluate the first N questions only."
    ),
    adapter: str | None = typer.Option(
        None,
        "--adapter",
        help="PEFT adapter for ft and hybrid (a folder, or a name under DATA_DIR/adapters). "
        "Default: MAINT_ADAPTER, else the base model.",
        show_default=False,
    ),
    docs: Path | None = typer.Option(
        None,
        "--docs",
        help="Your own manuals (a folder or file): ingested into an isolated workspace "
        "(its own embedded PostgreSQL and graph) before the evaluation.",
        show_default=False,
    ),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        help="The isolated workspace for --docs [DATA_DIR/eval-workspaces/<docs name>]. "
        "Ingestion there is incremental: unchanged files are skipped on a second run.",
        show_default=False,
    ),
    train_adapter: bool = typer.Option(
        False,
        "--train-adapter",
        help="With --docs: build training data from those manuals (the dataset's questions "
        "excluded) and train an adapter, then evaluate with it. Hours on a CPU.",
    ),
    train_config: Path = typer.Option(
        TRAIN_CONFIG, "--train-config", help="Training config for --train-adapter."
    ),
    judge_url: str | None = typer.Option(
        None,
        "--judge-url",
        help="OpenAI-compatible endpoint (e.g. http://host:8000/v1) that judges the LLM-based "
        "RAGAS metrics (faithfulness, factual correctness, response relevancy). Default: "
        "MAINT_JUDGE_URL; unset: only the offline metrics run.",
        show_default=False,
    ),
    judge_model: str | None = typer.Option(
        None,
        "--judge-model",
        help="Model name for the judge [MAINT_JUDGE_MODEL].",
        show_default=False,
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary (per mode: every metric, counts) as JSON."
    ),
    retrieval_only: bool = typer.Option(
        False,
        "--retrieval-only",
        help="Measure retrieval only (maint's retrievers against the baselines); no answers "
        "are generated, so --modes is ignored. Minutes instead of an hour.",
    ),
) -> None:
    """Evaluate answers and retrieval on a question set, per mode, and write a report.

    Every question goes through each mode. Scored per answer: accuracy (required strings,
    units normalised), refusals, part-number and value hallucinations, safety warnings,
    citations, latency; RAGAS metrics offline (and LLM-judged ones with --judge-url).
    Retrieval is compared with BM25 and a plain LlamaIndex vector index on the same chunks.

    Writes report.md, results.json, answers-<mode>.jsonl and PNG charts to the report folder,
    and prints the summary table.
    """
    from eval.dataset import DatasetError, load
    from eval.ragas_metrics import Judge

    settings: Settings = ctx.obj
    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODES]
    if retrieval_only:
        chosen = []
    elif unknown or not chosen:
        raise typer.BadParameter(
            f"unknown mode(s) {', '.join(unknown) or '(none)'}; use rag, ft, hybrid",
            param_hint="--modes",
        )
    if (workspace or train_adapter) and docs is None:
        raise typer.BadParameter(
            "needs --docs (the manuals to evaluate on)", param_hint="--workspace/--train-adapter"
        )
    try:
        items = load(dataset)[:limit]
    except DatasetError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    url, model = judge_url or settings.judge_url, judge_model or settings.judge_model
    if url and not model:
        raise typer.BadParameter("the judge needs a model name", param_hint="--judge-model")
    judge = (
        Judge(url=url, model=model, api_key=settings.judge_api_key or "not-needed")
        if url and model
        else None
    )

    with cli_errors():
        if docs is not None:
            adapter = _absolute_adapter(settings, adapter)
            settings = _isolated(
                settings, workspace or settings.data_dir / "eval-workspaces" / docs.resolve().name
            )
            _ingest(settings, docs)
            if train_adapter:
                adapter = _train(settings, dataset, train_config)
        results = _run(settings, dataset, items, chosen, adapter, judge)
        folder = (
            out or settings.data_dir / "eval" / f"{dataset.stem}-{datetime.now():%Y%m%d-%H%M%S}"
        )
        from eval.report import summary_rows, write_report

        write_report(results, folder)
    if as_json:
        emit_json(
            {
                "report": str(folder),
                "questions": len(items),
                "retrieval": results["retrieval"],
                "modes": summary_rows(results),
            }
        )
        return
    _print_summary(results, folder)


def _absolute_adapter(settings: Settings, adapter: str | None) -> str | None:
    """An adapter named in the main workspace stays usable from an isolated one."""
    from serving.answering.models import resolve_adapter

    name = adapter or settings.adapter
    return str(resolve_adapter(settings, name)) if name else None


def _isolated(settings: Settings, workspace: Path) -> Settings:
    """Embedded stores of their own under ``workspace``; the converted-model cache is shared
    (converting the model again would only cost time)."""
    return settings.model_copy(
        update={
            "data_dir": workspace.resolve(),
            "database_url": None,
            "graph_uri": None,
            "model_cache_dir": settings.models_dir,
        }
    )


def _ingest(settings: Settings, docs: Path) -> None:
    from infra.services import stores
    from ingestion.pipeline import Ingestor
    from maint.embed import embedder_for

    if not docs.exists():
        raise FileNotFoundError(f"--docs {docs}: no such file or folder")
    err.print(f"Ingesting {docs} into the isolated workspace {settings.data_dir} …", soft_wrap=True)

    def done(result) -> None:
        if result.reason:
            err.print(
                f"  {result.status}: {result.path}: {result.reason} — {result.hint}",
                highlight=False,
                soft_wrap=True,
            )

    with stores(settings) as (pg, graph):
        summary = Ingestor(settings, pg, graph, embedder_for(settings)).ingest([docs], None, done)
        counts = pg.counts()
    n = summary.to_dict()["documents"]
    err.print(
        f"  {n['added']} added, {n['unchanged']} unchanged, {n['failed']} failed; the "
        f"workspace holds {counts['documents']} documents, {counts['chunks']} chunks"
    )
    if not counts["chunks"]:
        raise FileNotFoundError(f"--docs {docs}: no manual could be ingested (see above)")


def _train(settings: Settings, dataset: Path, config: Path) -> str:
    """Build data and train with the same commands a user runs, in the isolated workspace."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MAINT_DATABASE_URL", "MAINT_GRAPH_URI")
    }
    env["MAINT_MODEL_CACHE_DIR"] = str(settings.models_dir)
    name = f"eval-{dataset.stem}"
    base = [sys.executable, "-m", "maint.cli", "--data-dir", str(settings.data_dir), "finetune"]
    for args in (
        ["dataset", "--exclude", str(dataset)],
        ["train", "--config", str(config), "--name", name],
    ):
        err.print(f"$ maint finetune {' '.join(args)}")
        if subprocess.run([*base, *args], env=env).returncode != 0:
            raise typer.Exit(1)
    return str(settings.adapters_dir / name)


def _run(settings: Settings, dataset: Path, items, modes, adapter, judge) -> dict:
    from eval.baselines import Chunks
    from eval.runner import EvalSetup, run, work_units
    from serving.answering.factory import open_answerer

    setup = EvalSetup(dataset=dataset, modes=modes, adapter=adapter, judge=judge)
    with open_answerer(settings) as answerer:
        if not answerer.pg.counts()["chunks"]:
            raise FileNotFoundError(
                f"nothing is ingested in {settings.data_dir}: run `maint ingest "
                "data/samples/manuals` first, or pass --docs YOUR_MANUALS"
            )
        total = work_units(items, modes)
        with progress_bar(TimeRemainingColumn()) as progress:
            task = progress.add_task("evaluating", total=total)
            done, logged = [0], [0]

            def tick(what: str) -> None:
                progress.update(task, advance=1, description=what)
                done[0] += 1
                if not err.is_terminal and done[0] * 10 // total > logged[0]:
                    logged[0] = done[0] * 10 // total
                    err.print(f"{what}: {done[0]}/{total}", highlight=False)

            chunks = Chunks.of(answerer.pg)
            return run(setup, items, settings, answerer, answerer.embedder, chunks, tick)


def _print_summary(results: dict, folder: Path) -> None:
    from eval.report import COLUMNS, fmt

    console = human(False)
    # Metrics as rows, modes as columns: readable at any terminal width.
    table = Table(title=f"{results['questions']} questions from {Path(results['dataset']).name}")
    table.add_column("metric")
    for mode in results["modes"]:
        table.add_column(mode, justify="right")
    for key, title, _ in COLUMNS:
        table.add_row(title, *[fmt(r["summary"][key]) for r in results["modes"].values()])
    if results["modes"]:  # --retrieval-only: no answers to show
        console.print(table)
    retrieval = Table(title="Retrieval against the gold evidence")
    for col in ("retriever", "recall@5", "recall@20", "MRR"):
        retrieval.add_column(col, justify="right" if col != "retriever" else "left")
    for name, m in results["retrieval"].items():
        retrieval.add_row(name, fmt(m["recall@5"]), fmt(m["recall@20"]), fmt(m["mrr"]))
    console.print(retrieval)
    console.print(f"Report: {folder / 'report.md'} ({results['seconds']:.0f} s)")
