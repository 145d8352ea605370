"""Ingestion benchmark: pages/s and chunks/s with a stage split, on the sample corpus and on a
10x replicated corpus, each in a fresh workspace and its own process (for peak memory).

The embedding stage is compared with bare sentence-transformers ``encode`` on the same chunk
texts in the same run: the ratio is our overhead on the stage that bounds ingestion speed.

    python benchmarks/ingest.py [--copies 10] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLES = ROOT / "data" / "samples" / "manuals"


def replicate(dest: Path, copies: int) -> None:
    """Copies with distinct content (so the hash check does not skip them)."""
    from pypdf import PdfReader, PdfWriter

    for n in range(copies):
        for src in sorted(SAMPLES.iterdir()):
            out = dest / f"copy{n:02d}-{src.name}"
            if src.suffix == ".pdf":
                writer = PdfWriter(clone_from=PdfReader(src))
                writer.add_metadata({"/Subject": f"benchmark copy {n}"})
                with out.open("wb") as fh:
                    writer.write(fh)
            elif src.suffix == ".html":
                out.write_text(src.read_text() + f"\n<!-- benchmark copy {n} -->\n")
            else:
                out.write_text(src.read_text() + f"\n\nBenchmark copy {n}.\n")


def run_scenario(name: str, copies: int) -> dict:
    """One scenario, in this process: a fresh workspace, ingest, then the bare-encode baseline."""
    from infra.embedded import remove_workspace
    from infra.services import stores
    from ingestion.pipeline import Ingestor
    from maint.embed import SentenceTransformerEmbedder
    from maint.settings import Settings

    class Recording(SentenceTransformerEmbedder):
        """Our embedder, keeping the texts it embedded for the bare-encode baseline."""

        def __init__(self) -> None:
            super().__init__()
            self.texts: list[str] = []

        def embed(self, texts):
            self.texts.extend(texts)
            return super().embed(texts)

    work = Path(tempfile.mkdtemp(prefix=f"maint-bench-{name}-"))
    corpus = work / "corpus"
    corpus.mkdir()
    if copies == 1:
        for src in SAMPLES.iterdir():
            shutil.copy(src, corpus / src.name)
    else:
        replicate(corpus, copies)
    settings = Settings(data_dir=work / "data")
    embedder = Recording()
    try:
        with stores(settings) as (pg, graph):
            t0 = time.perf_counter()
            summary = Ingestor(settings, pg, graph, embedder).ingest([corpus])
            wall = time.perf_counter() - t0
        assert not summary.failed, summary.to_dict()
        # Baseline: bare encode of exactly the texts our pipeline embedded.
        texts = embedder.texts
        t0 = time.perf_counter()
        embedder.model.encode(texts, batch_size=settings.embedding_batch_size)
        bare = time.perf_counter() - t0
    finally:
        remove_workspace(work / "data")
        shutil.rmtree(work, ignore_errors=True)
    totals = summary.totals()
    timings = summary.to_dict()["timings"]
    return {
        "scenario": name,
        "files": len(summary.files),
        "pages": totals["pages"],
        "chunks": totals["chunks"],
        "entities": totals["entities"],
        "relations": totals["relations"],
        "seconds": round(wall, 2),
        "pages_per_s": round(totals["pages"] / wall, 2),
        "chunks_per_s": round(totals["chunks"] / wall, 2),
        "stages_s": timings,
        "bare_encode_s": round(bare, 2),
        "embed_vs_bare_encode": round(timings["embed"] / bare, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    from maint.process import setup

    setup()  # OpenMP wait policy and quiet loggers, before torch is imported
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=10, help="replication of the large run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:  # child process
        copies = 1 if args.scenario == "sample" else args.copies
        print(json.dumps(run_scenario(args.scenario, copies)))
        return
    results = []
    for scenario in ("sample", f"{args.copies}x"):
        proc = subprocess.run(
            [sys.executable, __file__, "--scenario", scenario, "--copies", str(args.copies)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            sys.exit(f"scenario {scenario} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    header = (
        f"{'scenario':<9}{'files':>6}{'pages':>7}{'chunks':>7}{'sec':>8}{'pages/s':>9}"
        f"{'chunks/s':>9}{'parse':>7}{'extract':>8}{'embed':>7}{'pg':>6}{'graph':>7}"
        f"{'bare enc':>9}{'emb/bare':>9}{'peak MB':>8}"
    )
    print(header)
    for r in results:
        s = r["stages_s"]
        print(
            f"{r['scenario']:<9}{r['files']:>6}{r['pages']:>7}{r['chunks']:>7}{r['seconds']:>8.1f}"
            f"{r['pages_per_s']:>9.2f}{r['chunks_per_s']:>9.2f}{s['parse']:>7.1f}"
            f"{s['extract']:>8.1f}{s['embed']:>7.1f}{s['vector_store']:>6.1f}{s['graph']:>7.1f}"
            f"{r['bare_encode_s']:>9.1f}{r['embed_vs_bare_encode']:>9.2f}{r['peak_rss_mb']:>8.0f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {"benchmark": "ingest", "at": stamp, "results": results}
    for path in (args.out / f"ingest-{stamp}.json", args.out / "ingest.json"):
        path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out / 'ingest.json'}")


if __name__ == "__main__":
    main()
