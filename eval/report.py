"""The report folder of an evaluation run: what a reliability engineer reads, and the data
behind it.

    report.md             summary tables, which mode wins where, failures, definitions
    results.json          everything ``eval.runner.run`` returned
    answers-<mode>.jsonl  one line per question: answer, scores, citations, RAGAS scores
    metrics.png           the main metrics per mode
    accuracy_by_type.png  accuracy per question type and mode
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (key, column title, higher is better); the summary table's columns in order.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("accuracy", "accuracy", True),
    ("answerable_accuracy", "answerable acc.", True),
    ("refusal_accuracy", "refusal acc.", True),
    ("false_refusal_rate", "false refusals", False),
    ("part_number_hallucination_rate", "P/N halluc.", False),
    ("invented_part_number_rate", "P/N invented", False),
    ("value_hallucination_rate", "value halluc.", False),
    ("invented_value_rate", "value invented", False),
    ("safety_coverage", "safety cov.", True),
    ("citation_accuracy", "citation acc.", True),
    ("latency_p50_s", "p50 s", False),
    ("latency_p95_s", "p95 s", False),
)
RETRIEVAL_COLUMNS = ("recall@5", "recall@20", "mrr")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def winners(modes: dict[str, Any]) -> dict[str, list[str]]:
    """Per summary metric, the mode(s) with the best value (ties share the win)."""
    out = {}
    for key, _, higher in COLUMNS:
        values = {m: r["summary"][key] for m, r in modes.items() if r["summary"][key] is not None}
        if len(values) < 2:
            continue
        best = max(values.values()) if higher else min(values.values())
        out[key] = [m for m, v in values.items() if v == best]
    return out


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per mode: what ``--json`` prints and the summary table shows."""
    rows = []
    for mode, r in results["modes"].items():
        row = {"mode": mode, "model": r["model"]}
        row.update({k: v for k, v in r["summary"].items() if k != "counts"})
        row["counts"] = r["summary"]["counts"]
        if r["ragas"]:
            row["ragas"] = r["ragas"]
        rows.append(row)
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _ragas_cell(m: dict[str, Any]) -> str:
    cell = fmt(m["mean"])
    notes = []
    if m["failed"]:
        notes.append(f"{m['failed']} failed")
    if m["not_applicable"]:
        notes.append(f"{m['not_applicable']} n/a")
    return f"{cell} ({', '.join(notes)})" if notes else cell


def failures(results: dict[str, Any], mode: str = "hybrid", limit: int = 12) -> list[dict]:
    rows = results["answers"].get(mode, [])
    return [r for r in rows if not r["correct"]][:limit]


def render_markdown(results: dict[str, Any], charts: list[str]) -> str:
    modes = results["modes"]
    out = [
        "# maint evaluation report",
        "",
        f"- Dataset: `{results['dataset']}`: {results['questions']} questions, "
        f"{results['answerable']} answerable",
        f"- Workspace: `{results['workspace']}` ({results['corpus']['chunks']} chunks)",
        "- Models: "
        + (", ".join(f"{m}: {r['model']}" for m, r in modes.items()) or "none (retrieval only)"),
        f"- Adapter (ft, hybrid): {results['adapter'] or 'none (base model)'}",
        "- RAGAS judge: "
        + (
            f"{results['judge']['model']} at {results['judge']['url']}"
            if results["judge"]
            else "none (LLM-judged metrics not run; pass --judge-url)"
        ),
        f"- Run: {results['started']}, {results['seconds']:.0f} s on {results['host']}, "
        f"maint {results['maint_version']}",
    ]
    if modes:
        out += _answers_section(modes)
    out += _retrieval_section(results)
    if not modes:  # --retrieval-only
        out += ["", "## Definitions", ""]
        out += [f"- **{k}**: {v}" for k, v in results["definitions"].items()]
        return "\n".join(out) + "\n"
    out += _by_type_section(results, modes, charts)
    out += _refusal_section(results)
    out += ["", "## Definitions", ""]
    out += [f"- **{k}**: {v}" for k, v in results["definitions"].items()]
    return "\n".join(out) + "\n"


def _answers_section(modes: dict[str, Any]) -> list[str]:
    out = ["", "## Answers per mode", ""]
    header = ["mode", *[title for _, title, _ in COLUMNS]]
    out.append(
        _table(
            header,
            [[mode, *[fmt(r["summary"][k]) for k, _, _ in COLUMNS]] for mode, r in modes.items()],
        )
    )
    won = winners(modes)
    if won:
        out += ["", "Best mode per metric:", ""]
        for key, title, higher in COLUMNS:
            if key in won:
                arrow = "higher is better" if higher else "lower is better"
                out.append(f"- {title} ({arrow}): {', '.join(won[key])}")
    counts = ["", "Counts:", ""]
    for mode, r in modes.items():
        c = r["summary"]["counts"]
        counts.append(
            f"- {mode}: {c['correct']}/{c['questions']} correct, {c['refused']} refusals, "
            f"{c['guard_unverified']} drafts the guard rejected "
            f"({c['extractive_fallbacks']} answered by quoting the source), "
            f"{c['safety_questions']} safety questions, {c['citing_answers']} answers citing "
            "with evidence to check"
        )
    out += counts

    with_ragas = {m: r["ragas"] for m, r in modes.items() if r["ragas"]}
    if with_ragas:
        names = list(next(iter(with_ragas.values())))
        out += ["", "## RAGAS", ""]
        out.append(
            "Means over the questions where the metric applies; failed (NaN or error) and "
            "not-applicable samples are counted, never averaged in."
        )
        out.append("")
        out.append(
            _table(
                ["mode", *names],
                [[m, *[_ragas_cell(r[n]) for n in names]] for m, r in with_ragas.items()],
            )
        )
        for m, r in modes.items():
            for metric, error in (r.get("ragas_errors") or {}).items():
                out.append(f"- {m}, {metric}: first failure: {error}")
    return out


def _retrieval_section(results: dict[str, Any]) -> list[str]:
    out = ["", "## Retrieval (recall against the gold evidence)", ""]
    retrieval = results["retrieval"]
    n = next(iter(retrieval.values()))["questions"] if retrieval else 0
    out.append(
        f"{n} answerable questions with evidence. bm25: BM25 (bm25s); llamaindex: LlamaIndex "
        "VectorStoreIndex over the same chunks and embedder; dense, keyword, graph: maint's "
        "single retrievers; fused: maint's hybrid retriever."
    )
    out.append("")
    out.append(
        _table(
            ["retriever", *RETRIEVAL_COLUMNS],
            [[name, *[fmt(m[c]) for c in RETRIEVAL_COLUMNS]] for name, m in retrieval.items()],
        )
    )

    missed = {
        qid: r for qid, r in results.get("retrieval_ranks", {}).items() if not _top5(r.get("fused"))
    }
    if missed:
        out += ["", f"Evidence not in fused top 5 ({len(missed)} questions; rank, – = not in 20):"]
        out.append("")
        names = list(next(iter(missed.values())))
        out.append(
            _table(
                ["question", *names], [[q, *[fmt(r[n]) for n in names]] for q, r in missed.items()]
            )
        )

    return out


def _by_type_section(
    results: dict[str, Any], modes: dict[str, Any], charts: list[str]
) -> list[str]:
    out: list[str] = []
    types = sorted({t for r in modes.values() for t in r["by_type"]})
    out += ["", "## Accuracy by question type", ""]
    out.append(
        _table(
            ["type", *modes],
            [
                [
                    t,
                    *[
                        f"{r['by_type'][t]['correct']}/{r['by_type'][t]['questions']}"
                        if t in r["by_type"]
                        else "–"
                        for r in modes.values()
                    ],
                ]
                for t in types
            ],
        )
    )
    for chart in charts:
        out += ["", f"![{chart}]({chart})"]

    failing_mode = "hybrid" if "hybrid" in modes else next(iter(modes), None)
    if failing_mode:
        wrong = failures(results, failing_mode)
        out += ["", f"## Where {failing_mode} fails (first {len(wrong)})", ""]
        for r in wrong:
            why = (
                "answered an unanswerable question"
                if r["answer_type"] == "unanswerable"
                else f"missing {', '.join(r['missing'])}"
            )
            answer = r["answer"].replace("\n", " ")
            out.append(f"- `{r['id']}` ({r['answer_type']}) {r['question']}  ")
            out.append(f"  answer: {answer[:300]}  ")
            out.append(f"  why: {why}")
    return out


def refusal_curve(rows: list[dict], thresholds: list[float]) -> list[dict[str, float]]:
    """Hybrid answers against a refusal threshold on their confidence (the best line's
    selector score): refusal accuracy on the unanswerable questions, false refusals and
    accuracy on the answerable ones. An answer refused for other reasons (no line holds the
    asked kind of value) stays refused at every threshold."""
    unanswerable = [r for r in rows if r["answer_type"] == "unanswerable"]
    answerable = [r for r in rows if r["answer_type"] != "unanswerable"]

    def refused(r: dict, t: float) -> bool:
        return r["confidence"] is None or r["confidence"] < t

    out = []
    for t in thresholds:
        out.append(
            {
                "threshold": t,
                "refusal_accuracy": sum(refused(r, t) for r in unanswerable)
                / max(len(unanswerable), 1),
                "false_refusals": sum(refused(r, t) for r in answerable) / max(len(answerable), 1),
                "answerable_accuracy": sum(r["correct"] and not refused(r, t) for r in answerable)
                / max(len(answerable), 1),
            }
        )
    return out


def _refusal_section(results: dict[str, Any]) -> list[str]:
    rows = results["answers"].get("hybrid") or []
    if not rows or all(r.get("confidence") is None for r in rows):
        return []
    out = ["", "## Refusal threshold (hybrid)", ""]
    out.append(
        "Each row: what hybrid mode would score if answers whose best line scored under the "
        "threshold were refused. The selector's own threshold is in its `selector.json`."
    )
    out.append("")
    curve = refusal_curve(rows, [0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6])
    out.append(
        _table(
            ["threshold", "refusal acc.", "false refusals", "answerable acc."],
            [
                [
                    f"{p['threshold']:.2f}",
                    fmt(p["refusal_accuracy"]),
                    fmt(p["false_refusals"]),
                    fmt(p["answerable_accuracy"]),
                ]
                for p in curve
            ],
        )
    )
    return out


def _top5(rank: int | None) -> bool:
    return rank is not None and rank <= 5


def plot_charts(results: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = results["modes"]
    names = list(modes)
    written = []

    keys = [
        ("accuracy", "accuracy"),
        ("refusal_accuracy", "refusal acc."),
        ("part_number_hallucination_rate", "P/N halluc."),
        ("value_hallucination_rate", "value halluc."),
        ("safety_coverage", "safety cov."),
        ("citation_accuracy", "citation acc."),
    ]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(names))
    for j, mode in enumerate(names):
        values = [modes[mode]["summary"][k] or 0.0 for k, _ in keys]
        xs = [i + j * width for i in range(len(keys))]
        ax.bar(xs, values, width, label=mode)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(keys))])
    ax.set_xticklabels([t for _, t in keys])
    ax.set_ylim(0, 1)
    ax.set_title(f"Metrics per mode ({results['questions']} questions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "metrics.png", dpi=110)
    plt.close(fig)
    written.append("metrics.png")

    types = sorted({t for r in modes.values() for t in r["by_type"]})
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for j, mode in enumerate(names):
        by = modes[mode]["by_type"]
        values = [by[t]["accuracy"] if t in by else 0.0 for t in types]
        ax.bar([i + j * width for i in range(len(types))], values, width, label=mode)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(types))])
    ax.set_xticklabels(types, rotation=15)
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy by question type")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "accuracy_by_type.png", dpi=110)
    plt.close(fig)
    written.append("accuracy_by_type.png")
    return written


def write_report(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write the report folder; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for mode, rows in results["answers"].items():
        path = out_dir / f"answers-{mode}.jsonl"
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        files.append(path)
    (out_dir / "results.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    files.append(out_dir / "results.json")
    charts = plot_charts(results, out_dir) if results["modes"] else []
    files += [out_dir / c for c in charts]
    (out_dir / "report.md").write_text(render_markdown(results, charts), encoding="utf-8")
    files.append(out_dir / "report.md")
    return files
