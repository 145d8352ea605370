"""What embedding fewer tokens would cost: ways of making the search units' vectors, each with
the tokens it encodes, its speed and the retrieval it gives, on the sample corpus and the five
real manuals (../shared/real-manuals/docs, skipped with a line when absent).

Embedding is most of ingestion (README Benchmarks): each search unit is embedded with its
search path ("manual > chapter > section" + the unit), 500k tokens for the real manuals' 580
pages, about 7,500 tokens/s on 2 cores. 20 pages/s would leave some 150k tokens, about the
chunks' own. The ways measured, the chunk vectors the same in all:

- ``shipped``: every unit alone with its path, as ``maint ingest`` does (less the 2-3 % of
  texts a file repeats, embedded once there);
- ``late-256``: units pooled from their chunk's own pass ("late chunking": the chunk's [CLS],
  path, the unit's tokens and [SEP]), the pass cut at 256 tokens as the chunk vector's is;
  a unit past the cut, or not found verbatim in the chunk, is embedded alone;
- ``late-512``: the same with the chunk's pass run to 512 tokens, the model's limit (the
  chunk's vector would come from that pass too, and change: not measured here);
- ``path-apart``: each distinct path embedded once, each unit without it, the unit's vector
  pooled over both passes' tokens;
- ``no-path``: each unit without its path.

Per way: tokens encoded (chunks and units), encode time with torch in this run and its speed
over ``shipped``'s, the cosine of its unit vectors to ``shipped``'s, and recall@1/5/10 of the
unit-vector search alone (chunks ranked by their best unit against the question; a hit is a
chunk holding one of the answer's required strings), on ``data/eval/dev.jsonl`` and the real
manuals' questions. This is one of the fused retriever's legs, not the fused retriever: a
way that loses here is ruled out; one that holds needs ``maint eval`` on both sets.

    python benchmarks/unit_vectors.py [--only sample|real] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPORA = {  # name -> (manuals, questions)
    "sample": (ROOT / "data" / "samples" / "manuals", ROOT / "data" / "eval" / "dev.jsonl"),
    "real": (
        ROOT.parent / "shared" / "real-manuals" / "docs",
        ROOT.parent / "shared" / "real-manuals" / "qa.jsonl",
    ),
}
WAYS = ("shipped", "late-256", "late-512", "path-apart", "no-path")
KS = (1, 5, 10)


class Encoder:
    """The embedding model's token states (torch), with the tokens each call encoded."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from maint.embed import default_model_path
        from maint.embed_onnx import _sentence_config

        hf_logging.set_verbosity_error()
        path = Path(default_model_path())
        mode, self.max_tokens = _sentence_config(path)
        if mode != "mean":
            raise SystemExit(f"the embedding model pools by {mode}; this benchmark pools means")
        self.torch = torch
        torch.set_num_threads(os.cpu_count() or 1)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.tokens = 0

    def states(self, text: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(token states, character offsets) of ``text`` cut at ``limit`` tokens."""
        enc = self.tokenizer(
            text,
            truncation=True,
            max_length=limit or self.max_tokens,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping")[0].numpy()
        with self.torch.no_grad():
            states = self.model(**enc).last_hidden_state[0].numpy()
        self.tokens += len(offsets)
        return states, offsets

    def vector(self, text: str) -> np.ndarray:
        return _unit(self.states(text)[0].mean(0))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def chunks_of(folder: Path, encoder: Encoder) -> list:
    from ingestion.chunker import chunk_document
    from ingestion.parsers import parse_file
    from maint.settings import Settings

    settings = Settings()

    def count(text: str) -> int:
        return len(encoder.tokenizer(text, add_special_tokens=False)["input_ids"])

    chunks = []
    for path in sorted(folder.iterdir()):
        chunks += chunk_document(path.name, parse_file(path, path.read_bytes()), count, settings)
    return chunks


def unit_spans(chunk, unit) -> list[tuple[int, int]] | None:
    """Where the unit's lines sit in the chunk's embed text (a table row's unit is its header
    line and its row line), or None where one is not there verbatim."""
    base = len(chunk.embed_text) - len(chunk.text)
    pieces = unit.text.split("\n") if unit.kind in ("row", "part_row") else [unit.text]
    spans = []
    for piece in pieces:
        at = chunk.text.find(piece)
        if at < 0:
            return None
        spans.append((base + at, base + at + len(piece)))
    return spans


def late(chunks: list, encoder: Encoder, limit: int) -> tuple[list, list]:
    """(chunk vectors, unit vectors), both pooled from each chunk's one pass."""
    chunk_vectors, vectors = [], []
    for chunk in chunks:
        states, offsets = encoder.states(chunk.embed_text, limit)
        chunk_vectors.append(_unit(states.mean(0)))
        path_end = len(chunk.embed_text) - len(chunk.text)
        covered = max(int(b) for _, b in offsets)
        path = [i for i, (a, b) in enumerate(offsets) if a < b <= path_end]
        for unit in chunk.units:
            spans = unit_spans(chunk, unit)
            if spans is None or max(e for _, e in spans) > covered:
                vectors.append(encoder.vector(chunk.grounded(unit.text)))
                continue
            own = [
                i
                for i, (a, b) in enumerate(offsets)
                if a < b and any(a < e and b > s for s, e in spans)
            ]
            vectors.append(_unit(states[[0, *path, *own, len(offsets) - 1]].mean(0)))
    return chunk_vectors, vectors


def path_apart(chunks: list, encoder: Encoder) -> list[np.ndarray]:
    paths: dict[str, np.ndarray] = {}
    vectors = []
    for chunk in chunks:
        if chunk.search_path not in paths:
            paths[chunk.search_path] = encoder.states(chunk.search_path)[0]
        path = paths[chunk.search_path]
        for unit in chunk.units:
            body = encoder.states(unit.text)[0]
            vectors.append(_unit(np.concatenate([path, body[1:]]).mean(0)))  # one [CLS]
    return vectors


def unit_vectors(way: str, chunks: list, encoder: Encoder) -> list[np.ndarray]:
    if way == "shipped":
        return [encoder.vector(text) for c in chunks for text in c.unit_embed_texts]
    if way.startswith("late-"):
        return late(chunks, encoder, int(way.split("-")[1]))[1]
    if way == "path-apart":
        return path_apart(chunks, encoder)
    return [encoder.vector(u.text) for c in chunks for u in c.units]


def recall(questions: list[dict], q_vectors, units: np.ndarray, owner, chunk_texts) -> dict:
    """recall@k of chunks ranked by their best unit: a hit holds a required string."""
    found = dict.fromkeys(KS, 0)
    for question, q in zip(questions, q_vectors, strict=True):
        need = [_norm(s) for s in question["must_contain"]]
        top: list[int] = []
        for row in np.argsort(-(units @ q)):
            if owner[row] not in top:
                top.append(owner[row])
            if len(top) == max(KS):
                break
        hits = [any(s in chunk_texts[c] for s in need) for c in top]
        for k in KS:
            found[k] += any(hits[:k])
    return {f"recall@{k}": round(found[k] / len(questions), 3) for k in KS}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def run_corpus(name: str, encoder: Encoder) -> dict:
    folder, qa = CORPORA[name]
    chunks = chunks_of(folder, encoder)
    questions = [q for q in map(json.loads, qa.read_text().splitlines()) if q.get("must_contain")]
    q_vectors = [encoder.vector(q["question"]) for q in questions]
    owner = [n for n, c in enumerate(chunks) for _ in c.units]
    chunk_texts = [_norm(c.text) for c in chunks]
    encoder.tokens, started = 0, time.perf_counter()
    for chunk in chunks:  # the chunk vectors: the same for every way
        encoder.states(chunk.embed_text)
    chunk_tokens, chunk_s = encoder.tokens, time.perf_counter() - started
    rows, shipped = [], None
    for way in WAYS:
        encoder.tokens, started = 0, time.perf_counter()
        vectors = np.array(unit_vectors(way, chunks, encoder))
        seconds = time.perf_counter() - started
        # The late ways' chunk pass gives the chunk vectors too: not counted twice.
        tokens = encoder.tokens + (0 if way.startswith("late-") else chunk_tokens)
        seconds += 0 if way.startswith("late-") else chunk_s
        if shipped is None:
            shipped = (vectors, seconds)
        cosine = (vectors * shipped[0]).sum(1)
        rows.append(
            {
                "way": way,
                "tokens": tokens,
                "encode_s": round(seconds, 1),
                "speed_vs_shipped": round(shipped[1] / seconds, 2),
                "cosine_to_shipped_min": round(float(cosine.min()), 3),
                "cosine_to_shipped_mean": round(float(cosine.mean()), 3),
                **recall(questions, q_vectors, vectors, owner, chunk_texts),
            }
        )
        print(f"  {name}/{way}: {tokens} tokens, {seconds:.1f} s, {rows[-1]}", flush=True)
    units = sum(len(c.units) for c in chunks)
    return {
        "corpus": name,
        "chunks": len(chunks),
        "units": units,
        "questions": len(questions),
        "ways": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(CORPORA), help="one corpus only")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    encoder = Encoder()
    results = []
    for name in [args.only] if args.only else list(CORPORA):
        if not CORPORA[name][0].is_dir():
            print(f"{name}: {CORPORA[name][0]} not found, skipped")
            continue
        results.append(run_corpus(name, encoder))
    print(
        f"\n{'corpus':7}{'way':12}{'tokens':>9}{'enc s':>7}{'speed':>7}{'cos min':>8}"
        f"{'cos mean':>9}{'r@1':>7}{'r@5':>7}{'r@10':>7}"
    )
    for result in results:
        for r in result["ways"]:
            print(
                f"{result['corpus']:7}{r['way']:12}{r['tokens']:>9}{r['encode_s']:>7}"
                f"{r['speed_vs_shipped']:>7}{r['cosine_to_shipped_min']:>8}"
                f"{r['cosine_to_shipped_mean']:>9}{r['recall@1']:>7}{r['recall@5']:>7}"
                f"{r['recall@10']:>7}"
            )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {"benchmark": "unit_vectors", "at": stamp, "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    for name in (f"unit_vectors-{stamp}.json", "unit_vectors.json"):
        (args.out / name).write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.out / 'unit_vectors.json'}")


if __name__ == "__main__":
    main()
