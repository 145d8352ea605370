"""How long ``maint eval`` takes on 100 questions in all three modes, on this machine.

Builds a 100-question set from ``data/eval/dev.jsonl`` (its 85 questions, then the first ones
again under new ids), runs ``maint eval --modes rag,ft,hybrid`` on it as a user would
(a subprocess, against the configured workspace: run ``make demo`` first), and reports the
wall time against the 30-minute target, the time per stage (retrieval baselines, answers per
mode, RAGAS per mode) and each mode's latency relative to rag's, measured in the same run.

    python benchmarks/eval_run.py [--questions 100] [--adapter NAME] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 30 * 60


def question_set(n: int, path: Path) -> Path:
    rows = [json.loads(x) for x in (ROOT / "data/eval/dev.jsonl").read_text().splitlines() if x]
    out = [
        {**rows[i % len(rows)], "id": f"{rows[i % len(rows)]['id']}#{i // len(rows)}"}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out))
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=100)
    p.add_argument("--adapter", default=None, help="adapter for ft and hybrid (default: base)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dataset = question_set(args.questions, Path(tmp) / f"eval{args.questions}.jsonl")
        report = Path(tmp) / "report"
        cmd = [sys.executable, "-m", "maint.cli", "eval", "--dataset", str(dataset)]
        cmd += ["--modes", "rag,ft,hybrid", "--out", str(report), "--json"]
        if args.adapter:
            cmd += ["--adapter", args.adapter]
        t0 = time.perf_counter()
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            sys.exit(f"maint eval failed ({run.returncode}):\n{run.stderr[-3000:]}")
        results = json.loads((report / "results.json").read_text())

    modes = results["modes"]
    answers_s = {m: sum(r["latency_s"] for r in rows) for m, rows in results["answers"].items()}
    base = answers_s.get("rag")
    rows = []
    for mode, r in modes.items():
        s = r["summary"]
        rows.append(
            {
                "mode": mode,
                "answers_s": round(answers_s[mode], 1),
                "vs_rag": round(answers_s[mode] / base, 2) if base else None,
                "p50_s": s["latency_p50_s"],
                "p95_s": s["latency_p95_s"],
                "ragas_s": r["ragas_seconds"],
                "accuracy": s["accuracy"],
            }
        )
    print(f"\nmaint eval: {args.questions} questions x 3 modes, {results['host']}")
    print(
        f"{'mode':<8}{'answers s':>10}{'x rag':>7}{'p50 s':>7}{'p95 s':>7}{'RAGAS s':>9}"
        f"{'accuracy':>10}"
    )
    for r in rows:
        print(
            f"{r['mode']:<8}{r['answers_s']:>10.1f}{r['vs_rag'] or 0:>7.2f}{r['p50_s']:>7.2f}"
            f"{r['p95_s']:>7.2f}{r['ragas_s'] or 0:>9.1f}{r['accuracy']:>10.3f}"
        )
    verdict = "within" if wall <= TARGET_S else "OVER"
    print(
        f"wall time {wall / 60:.1f} min (eval itself {results['seconds'] / 60:.1f} min, "
        f"the rest is start-up): {verdict} the 30 min target ({wall / TARGET_S:.2f} of it)"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"eval_run-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "questions": args.questions,
                "wall_s": round(wall, 1),
                "eval_s": results["seconds"],
                "target_s": TARGET_S,
                "within_target": wall <= TARGET_S,
                "host": results["host"],
                "adapter": args.adapter,
                "modes": rows,
                "retrieval": results["retrieval"],
            },
            indent=2,
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
