"""``maint finetune``: build training data, train adapters, list and merge them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from maint.output import cli_errors, emit_json, err, human, progress_bar
from maint.settings import Settings

app = typer.Typer(
    help="Fine-tune the generator on the ingested manuals (QLoRA by default) and manage the "
    "adapters it produces.",
    no_args_is_help=True,
)
ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "data" / "eval" / "dev.jsonl"


def dataset_dir(settings: Settings) -> Path:
    return settings.data_dir / "finetune" / "dataset"


@app.command()
def dataset(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None, help="Folder for the JSONL files [DATA_DIR/finetune/dataset]."
    ),
    exclude: list[Path] = typer.Option(
        [],
        "--exclude",
        help="Eval files whose questions must not leak into training "
        "(data/eval/dev.jsonl is always excluded).",
    ),
    extra: list[Path] = typer.Option(
        [], "--extra", help="Your own JSONL examples: {question, answer} or {messages} per line."
    ),
    seed: int = typer.Option(0, help="Same corpus + seed = byte-identical files."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Build training data from what is ingested.

    Spec, part-number, procedure, safety, interval and unanswerable questions, each
    closed-book and RAFT-style (the source among distractors, or distractors only).
    Validation is split by held-out facts. Eval questions (verbatim or near-verbatim),
    empty answers, over-long examples, duplicates and broken lines are reported and skipped.
    """
    from finetune.dataset import build_dataset
    from finetune.examples import DatasetConfig
    from infra.services import stores
    from maint.embed import embedder_for
    from serving.answering.models import bundled_model_path

    settings: Settings = ctx.obj
    out_dir = out or dataset_dir(settings)
    with cli_errors():
        for path in [*exclude, *extra]:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            settings.model or str(bundled_model_path(settings)), local_files_only=True
        )
        config = DatasetConfig(seed=seed, exclude=[DEV_SET, *exclude], extra=list(extra))
        with stores(settings) as (pg, graph):
            if not pg.counts()["chunks"]:
                err.print("[bold red]error:[/] nothing ingested; run `maint ingest PATH` first")
                raise typer.Exit(1)
            report = build_dataset(pg, graph, embedder_for(settings), tokenizer, config, out_dir)
    if as_json:
        emit_json(report.to_dict())
        return
    _print_report(report.to_dict(), human(as_json))


def _print_report(r: dict, console) -> None:
    counts = r["counts"]
    kinds = Table("kind", "closed train", "closed val", "RAFT train", "RAFT val", title="Examples")
    for kind, by_format in counts["by_kind"].items():
        cells = [by_format[f][s] for f in ("closed", "raft") for s in ("train", "val")]
        if any(cells):
            kinds.add_row(kind, *map(str, cells))
    files = counts["files"]
    kinds.add_row(
        "[bold]total[/]",
        *(f"[bold]{files[f'{f}_{s}']}[/]" for f in ("closed", "raft") for s in ("train", "val")),
    )
    console.print(kinds)
    docs = Table("document", "examples", title="By document")
    for d in counts["by_document"].values():
        docs.add_row(
            escape(d["title"] or "(not from one document: unanswerable, extra)"), str(d["examples"])
        )
    console.print(docs)
    tokens = counts["tokens"]
    console.print(
        f"{counts['examples']} examples from {counts['facts']['train']} train / "
        f"{counts['facts']['val']} held-out facts; {tokens['sum']:,} tokens (longest "
        f"{tokens['max']}); {counts['raft_no_oracle']} RAFT examples without the source "
        "(answer: refusal)"
    )
    if r["excluded"]:
        reasons = ", ".join(f"{n} {why}" for why, n in counts["excluded"].items())
        console.print(f"[yellow]excluded {len(r['excluded'])}[/] ({reasons}), e.g.:")
        for e in r["excluded"][:8]:
            console.print(
                f"  - {escape(e.get('reason', ''))}: {escape(str(e.get('question', ''))[:90])}"
            )
        console.print("  (all of them: report.json, or --json)")
    console.print(f"files in {r['out_dir']} · data hash {r['data_hash'][:12]}")


@app.command()
def train(
    ctx: typer.Context,
    config: Path = typer.Option(
        ROOT / "finetune" / "configs" / "smollm2-135m.yaml",
        "--config",
        "-c",
        help="Training config (YAML; fields of finetune/config.py).",
    ),
    data: Path | None = typer.Option(None, help="Dataset folder [DATA_DIR/finetune/dataset]."),
    name: str | None = typer.Option(
        None, help="Adapter name [MODEL-YYYYMMDD-HHMMSS]. Re-run with the same name to resume."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Override the config."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore an existing checkpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a LoRA adapter (QLoRA NF4 by default: float32 compute on CPU, bf16 on CUDA).

    Shows a progress bar with the loss, evaluates every N steps, stops early when the
    validation loss stops improving, checkpoints, and resumes an interrupted run of the same
    name. Writes DATA_DIR/adapters/NAME with the adapter, its config, data hash, metrics and
    a loss curve (loss.png). Use it with `maint ask --adapter NAME`.
    """
    from finetune.config import TrainConfig
    from finetune.train import train as run_training
    from serving.answering.models import bundled_model_path

    settings: Settings = ctx.obj
    folder = data or dataset_dir(settings)
    console = human(as_json)
    with cli_errors():
        if not config.is_file():
            raise FileNotFoundError(f"{config}: no such config file")
        cfg = TrainConfig.load(config, max_steps=max_steps)
        report_path = folder / "report.json"
        if not report_path.is_file():
            err.print(f"[bold red]error:[/] no dataset in {folder}; run `maint finetune dataset`")
            raise typer.Exit(1)
        report = json.loads(report_path.read_text())
        files = report["files"]
        formats = ["closed", "raft"] if cfg.format == "both" else [cfg.format]
        train_files = [Path(files[f"{f}_train"]) for f in formats]
        val_files = [Path(files[f"{f}_val"]) for f in formats]
        model_path = cfg.base_model or settings.model or str(bundled_model_path(settings))
        short = Path(model_path).name.lower()
        name = name or f"{short}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
        console.print(
            f"Training adapter [bold]{name}[/] on {Path(model_path).name} "
            f"({cfg.quantization}, {cfg.format}); to resume, re-run with --name {name}"
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("training", total=None, loss="")

            started = time.monotonic()

            def on_step(step: int, total: int, loss: float | None, eval_loss: float | None):
                text = f"loss {loss:.3f}" if loss is not None else ""
                if eval_loss is not None:
                    text += f" · eval {eval_loss:.3f}"
                progress.update(task, total=total, completed=step, loss=text)
                # Without a terminal (a log file, CI): a line every 5 % and at each evaluation.
                if not err.is_terminal and (
                    eval_loss is not None or step % max(1, total // 20) == 0
                ):
                    spent = time.monotonic() - started
                    err.print(f"step {step}/{total}: {text} · {spent / 60:.1f} min")

            result = run_training(
                cfg,
                model_path,
                train_files,
                val_files,
                settings.adapters_dir,
                name,
                report["data_hash"],
                resume=not fresh,
                on_step=on_step,
            )
    if as_json:
        emit_json(result.to_dict())
        return
    best = "-" if result.best_eval_loss is None else f"{result.best_eval_loss:.3f}"
    console.print(
        f"[green]adapter {result.name}[/] in {result.path}: {result.steps} steps, train loss "
        f"{result.first_train_loss:.3f} → {result.last_train_loss:.3f}, best eval loss {best}, "
        f"{result.tokens_per_s:.0f} tokens/s, peak {result.peak_memory_mb:.0f} MB"
        + (" (stopped early)" if result.stopped_early else "")
    )
    console.print(f'Use it: maint ask --adapter {result.name} "…"')


@app.command()
def selector(
    ctx: typer.Context,
    dataset: Path | None = typer.Option(
        None, help="Folder of `maint finetune dataset`'s files [DATA_DIR/finetune/dataset]."
    ),
    questions: int = typer.Option(
        600, min=20, help="Generated questions to train on (about 0.2 s each)."
    ),
    out: Path | None = typer.Option(None, help="Where to write it [DATA_DIR/selector.json]."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Train the answer selector on your manuals.

    Hybrid answers quote the lines a selector picks among the retrieved rows, sentences and
    warnings. This fits one to the questions `maint finetune dataset` wrote for your facts
    (the lines holding a fact's values or part numbers are the right ones), keeps it only if
    it beats similarity alone on the held-out questions, sets the refusal threshold, and
    writes DATA_DIR/selector.json, which `maint ask`, `maint serve` and `maint eval` use from
    then on (delete it to go back to the shipped selector).
    """
    from finetune.selector import collect, train
    from finetune.selector import questions as generated
    from serving.answering.factory import open_answerer
    from serving.answering.selector import FILE_NAME

    settings: Settings = ctx.obj
    target = out or settings.data_dir / FILE_NAME
    with cli_errors():
        rows = generated(dataset or dataset_dir(settings), questions)
        with open_answerer(settings) as answerer, progress_bar() as progress:
            task = progress.add_task("questions", total=len(rows))
            data = collect(
                answerer.retriever,
                answerer.pg,
                rows,
                settings.answer_depth,
                lambda: progress.advance(task),
            )
        trained, report = train(data)
        trained.save(target)
    report["written"] = str(target)
    if as_json:
        emit_json(report)
        return
    console = human(as_json)
    v = report["val_best_line_right"]
    console.print(
        f"{report['questions']} questions ({report['unanswerable']} unanswerable). Best line "
        f"right on the {report['val']} validation questions: fitted {v['fitted']:.0%}, "
        f"similarity alone {v['similarity']:.0%}; kept: {report['kept']}."
    )
    console.print(f"Refusal threshold {report['threshold']}. Written: {escape(str(target))}")


@app.command("list")
def list_adapters(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The trained adapters under DATA_DIR/adapters, newest first."""
    settings: Settings = ctx.obj
    rows = []
    root = settings.adapters_dir
    for path in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        card = path / "metrics.json"
        if (path / "adapter_config.json").is_file():
            m = json.loads(card.read_text()) if card.is_file() else {}
            m.pop("history", None)
            rows.append({"name": path.name, "path": str(path), **m})
    rows.sort(key=lambda r: r.get("created_at", ""), reverse=True)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        human(as_json).print("No adapters yet: `maint finetune train`.")
        return
    table = Table("name", "base model", "steps", "best eval loss", "data", "created")
    for r in rows:
        best = r.get("best_eval_loss")
        table.add_row(
            r["name"],
            Path(str(r.get("base_model", "?"))).name,
            str(r.get("steps", "?")),
            "-" if best is None else f"{best:.3f}",
            str(r.get("data_hash", ""))[:12],
            r.get("created_at", ""),
        )
    human(as_json).print(table)


@app.command()
def merge(
    ctx: typer.Context,
    adapter: str = typer.Argument(..., help="Adapter name (see `maint finetune list`) or folder."),
    out: Path = typer.Option(..., "--out", help="Folder for the merged model."),
) -> None:
    """Merge an adapter into its base model, for engines that cannot load adapters.

    Writes a plain Hugging Face model folder (weights + tokenizer) to --out."""
    from serving.answering.generate import GeneratorError
    from serving.answering.models import bundled_model_path, resolve_adapter

    settings: Settings = ctx.obj
    with cli_errors():
        path = resolve_adapter(settings, adapter)
        card = (
            json.loads((path / "metrics.json").read_text())
            if (path / "metrics.json").is_file()
            else {}
        )
        base = card.get("base_model") or settings.model or str(bundled_model_path(settings))
        if out.exists() and any(out.iterdir()):
            raise GeneratorError(f"{out} exists and is not empty; choose another --out")
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(
            base, local_files_only=True, dtype=torch.float32
        )
        merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
        merged.save_pretrained(out)
        AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)
    err.print(f"[green]merged[/] {path.name} into {Path(base).name}: {out}")
