"""Issue 18's figures in one table: the last step of ``make bench``.

Reads what the other benchmarks wrote (``ingest.json``, ``query.json``, ``memory.json`` under
``--results``), with the targets they wrote beside their figures, and prints each figure
beside its baseline from the same run, the ratio, the target and whether it is met; writes
``summary.json`` beside them. A benchmark that has not been run leaves its rows out, with a
line saying which. It measures nothing itself: each row names the run (its time stamp) it
comes from.

    python benchmarks/summary.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _row(figure, shipped, baseline, target, better, unit, run, note=""):
    """One figure; ``better`` is "higher" or "lower" (what meeting the target means)."""
    met = None
    if shipped is not None and target is not None:
        met = shipped >= target if better == "higher" else shipped < target
    ratio = None
    if shipped and baseline:
        ratio = round(shipped / baseline if better == "higher" else baseline / shipped, 2)
    return {
        "figure": figure,
        "unit": unit,
        "shipped": shipped,
        "baseline": baseline,
        "gain_vs_baseline": ratio,  # > 1: better than the baseline
        "target": target,
        "met": met,
        "run": run,
        **({"note": note} if note else {}),
    }


def ingest_rows(report: dict) -> list[dict]:
    rows = []
    by = {(r["corpus"], r["config"]): r for r in report["results"]}
    for corpus, name in (("real", "the five real manuals"), ("sample", "the sample corpus")):
        shipped, base = by.get((corpus, "default")), by.get((corpus, "baseline"))
        if not shipped:
            continue
        rows.append(
            _row(
                f"ingestion, {name} ({shipped['pages']} pages)",
                shipped["pages_per_s"],
                base and base["pages_per_s"],
                report.get("targets", {}).get(f"{corpus}_pages_per_s"),
                "higher",
                "pages/s",
                f"ingest {report['at']}",
                "baseline: torch embedder, parsed in process",
            )
        )
    return rows


def query_rows(report: dict) -> list[dict]:
    rows = []
    for scale in report.get("scales", []):
        size, r = scale["size"], scale["retrieval"]
        base = r.get("baseline_total", {})
        target = report.get("targets", {}).get(f"fused_p95_ms_at_{size}", {}).get("target")
        for stat in ("p50_ms", "p95_ms"):
            rows.append(
                _row(
                    f"fused retrieval {stat[:3]} at {size:,} chunks",
                    r["fused_total"][stat],
                    base.get(stat),
                    target if stat == "p95_ms" else None,
                    "lower",
                    "ms",
                    f"query {report['at']}",
                    f"{r['questions']} questions; baseline: torch embedder, searches in turn",
                )
            )
    return rows


def memory_rows(report: dict) -> list[dict]:
    rows = []
    for key, figure in (("ingest", "peak RSS, maint ingest"), ("serve", "peak RSS, maint serve")):
        shipped = report.get(key)
        if shipped:
            rows.append(
                _row(
                    figure,
                    shipped["peak_rss_mb"],
                    shipped.get("baseline_peak_rss_mb"),
                    shipped["target_mb"],
                    "lower",
                    "MB",
                    f"memory {report['at']}",
                    "baseline: torch embedder" + (", parsed in process" if key == "ingest" else ""),
                )
            )
    train = {t["variant"]: t for t in report.get("train") or []}
    if "configured" in train:
        shipped, base = train["configured"], train.get("baseline", {})
        rows.append(
            _row(
                "peak RSS, the demo's training step",
                shipped["peak_rss_mb"],
                base.get("peak_rss_mb"),
                shipped["target_mb"],
                "lower",
                "MB",
                f"memory {report['at']}",
                f"its largest batch, {shipped['peak_batch']}; baseline: no memory option",
            )
        )
        rows.append(
            _row(
                "training speed, the demo's step",
                shipped["tokens_per_s"],
                base.get("tokens_per_s"),
                None,
                "higher",
                "tokens/s",
                f"memory {report['at']}",
                "the price of the memory options",
            )
        )
    return rows


def summarise(results: Path) -> tuple[list[dict], list[str]]:
    rows, missing = [], []
    for name, rows_of in (("ingest", ingest_rows), ("query", query_rows), ("memory", memory_rows)):
        path = results / f"{name}.json"
        if not path.is_file():
            missing.append(f"{name}: not run (python benchmarks/{name}.py writes {path.name})")
            continue
        try:
            rows += rows_of(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            missing.append(f"{name}: {path} unreadable ({type(exc).__name__}: {exc}); run again")
    return rows, missing


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    rows, missing = summarise(args.results)
    print(
        f"{'figure':<46}{'unit':>9}{'shipped':>10}{'baseline':>10}{'gain':>7}{'target':>8}"
        f"{'met':>5}  run"
    )
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        print(
            f"{r['figure']:<46}{r['unit']:>9}{_fmt(r['shipped']):>10}{_fmt(r['baseline']):>10}"
            f"{_fmt(r['gain_vs_baseline']):>7}{_fmt(r['target']):>8}{met:>5}  {r['run']}"
        )
    for line in missing:
        print(line)
    out = args.results / "summary.json"
    if args.results.is_dir():
        out.write_text(json.dumps({"rows": rows, "missing": missing}, indent=2) + "\n")
        print(f"\nwrote {out}")
    if not rows:
        sys.exit("no benchmark results found: run `make bench` first")


if __name__ == "__main__":
    main()
