"""A study, not a feature: ingest manuals with late-chunked vectors, so that ``maint eval``
scores them whole (the README's Benchmarks give the result: ruled out on both sets).

Each chunk is run once, to ``--limit`` tokens: its vector and its search units' vectors are
pooled from that pass (``unit_vectors.late``), in place of the pipeline's embedding step;
everything else is ``maint ingest`` as shipped. Then evaluate the workspace as usual (its
files are unchanged, so ``maint eval`` does not ingest them again):

    MAINT_DATA_DIR=WS python benchmarks/late_ingest.py DOCS [--limit 512]
    maint eval --docs DOCS --workspace WS --modes hybrid
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from unit_vectors import Encoder, late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", type=Path, help="manuals to ingest (a folder or file)")
    parser.add_argument("--limit", type=int, default=512, help="tokens of each chunk's pass")
    args = parser.parse_args()

    import ingestion.pipeline as pipeline
    from maint.cli import app

    encoder = Encoder()
    current: list = []  # the chunks of the file being stored
    chunk_document = pipeline.chunk_document

    def chunked(*a, **kw):
        current[:] = chunk_document(*a, **kw)
        return current

    def embed_late(_embedder, texts):
        if texts[: len(current)] != [c.embed_text for c in current]:
            raise RuntimeError("the pipeline's embedding step changed: update this study")
        chunk_vectors, unit_vectors = late(current, encoder, args.limit)
        return np.array(chunk_vectors + unit_vectors, dtype=np.float32)

    pipeline.chunk_document, pipeline.embed_distinct = chunked, embed_late
    app(["ingest", str(args.docs)])


if __name__ == "__main__":  # parser processes import this module: only the parent ingests
    main()
