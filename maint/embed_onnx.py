"""The ONNX embedders: the local sentence-transformers model, exported once to ONNX with its
operators fused, run by onnxruntime; in fp32 (the default backend) or with weights quantized
to int8.

fp32 gives torch's vectors (cosine 0.9999996 at worst on the real manuals' chunks) in about
half the time: 6.8 s against 11.9 s for 200 chunks, a question in 8 ms against 16 ms on the
2-core CPU of the benchmarks (onnxruntime's fused attention and layer norm, no padding).

int8: on the 2-core CPU of the benchmarks it encoded the real manuals' chunks 2.3x faster than
torch fp32 in CPU time, at a cosine of 0.992 or more to the fp32 vectors; but the fused
retriever's recall@5 fell 1.5 points on the real manuals and 2.7 on the dev set, and dev
answers 65 -> 62 of 72, so it is not the default (``benchmarks/ingest.py``, README).

The export runs at first use, from the local weights (nothing is downloaded), into
``models_dir`` under a file lock, written to a temporary folder and renamed into place:
concurrent processes export once and an interrupted export leaves nothing behind.

The FFN down-projections stay fp32: their inputs (GELU outputs) have outliers that per-tensor
dynamic quantization of activations cannot hold, and quantizing them cost most of the cosine
(0.984-0.987 at worst on the corpus, against 0.99 and up with them kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from maint.errors import MaintError
from maint.filelock import file_lock

ONNX_FILE = "model.onnx"
# Per precision, the export recipe's version: bump one when its recipe changes, and the old
# caches are ignored.
FORMATS = {"fp32": "fp32-v1", "int8": "int8-v1"}
_GELU_OPS = {"Gelu", "BiasGelu", "FastGelu"}


class EmbeddingExportError(MaintError):
    """The ONNX export of the embedding model failed."""


def _sentence_config(model_path: Path) -> tuple[str, int]:
    """(pooling mode, max sequence length) of a sentence-transformers folder; only mean and
    CLS pooling followed by normalisation export (all-MiniLM-L6-v2 is mean)."""
    modules = json.loads((model_path / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    pooling = json.loads((model_path / pooling_dir / "config.json").read_text())
    mode = "mean" if pooling.get("pooling_mode_mean_tokens") else "cls"
    if kinds != ["Transformer", "Pooling", "Normalize"] or not (
        pooling.get("pooling_mode_mean_tokens") or pooling.get("pooling_mode_cls_token")
    ):
        raise EmbeddingExportError(
            f"the embedding model {model_path} is not Transformer+Pooling(mean or CLS)+Normalize;"
            " set MAINT_EMBEDDING_BACKEND=torch for it"
        )
    bert = json.loads((model_path / "sentence_bert_config.json").read_text())
    return mode, int(bert.get("max_seq_length", 256))


def cache_dir(model_path: Path, models_dir: Path, precision: str = "int8") -> Path:
    """Where the export of this model lives: keyed by its weights, so new weights re-export."""
    fmt = FORMATS[precision]
    digest = hashlib.sha256(fmt.encode())
    for name in ("config.json", "modules.json"):
        digest.update((model_path / name).read_bytes())
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    name = model_path.parent.name if model_path.name == "model" else model_path.name
    return models_dir / f"embedding-{name}-{digest.hexdigest()[:12]}-{fmt}"


def _export(model_path: Path, out: Path, mode: str, precision: str) -> None:
    """torch -> ONNX (eager attention, so onnxruntime fuses it) -> fused (-> int8)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    class Sentence(torch.nn.Module):
        """The transformer with pooling and normalisation, so ONNX returns final vectors."""

        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            if mode == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    config = AutoConfig.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    sample = tokenizer(["a short one", "and a longer second sentence"], padding=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(torch.tensor(sample[n]) for n in names)
    fp32, fused = out / "fp32.onnx", out / "fused.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            Sentence(model),
            args,
            str(fp32),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "b"}},
            opset_version=17,
            dynamo=False,
        )
    optimized = optimize_model(
        str(fp32),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
    )
    optimized.save_model_to_file(str(fused))
    tokenizer.save_pretrained(out)
    fp32.unlink()
    if precision == "fp32":
        fused.rename(out / ONNX_FILE)
        return
    graph = optimized.model.graph
    producer = {o: node.op_type for node in graph.node for o in node.output}
    down_projections = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and producer.get(node.input[0]) in _GELU_OPS
    ]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing": its shape inference refuses fused ops
    try:
        quantize_dynamic(
            str(fused),
            str(out / ONNX_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=down_projections,
            extra_options={"DefaultTensorType": 1},  # FLOAT, where shape inference gives none
        )
    finally:
        root.setLevel(level)
    fused.unlink()


def exported_model(
    model_path: Path, models_dir: Path, precision: str = "int8", notify=None
) -> Path:
    """The ONNX folder of ``model_path`` in ``precision``, exported on first use (about 10 s)."""
    target = cache_dir(model_path, models_dir, precision)
    if (target / ONNX_FILE).is_file():
        return target
    with file_lock(models_dir / f".{target.name}.lock"):
        if (target / ONNX_FILE).is_file():  # another process exported it while we waited
            return target
        for stale in models_dir.glob(f".{target.name}-*"):  # from a killed export
            shutil.rmtree(stale, ignore_errors=True)
        mode, _ = _sentence_config(model_path)
        if notify:
            notify(f"exporting the embedding model to {precision} ONNX once, into {target}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=models_dir))
        tmp.chmod(0o755)
        try:
            started = time.perf_counter()
            _export(model_path, tmp, mode, precision)
            (tmp / "export.json").write_text(
                json.dumps(
                    {
                        "from": str(model_path),
                        "format": FORMATS[precision],
                        "mode": mode,
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                )
                + "\n"
            )
            os.rename(tmp, target)
        except MaintError:
            raise
        except Exception as exc:
            raise EmbeddingExportError(
                f"exporting the embedding model {model_path} to ONNX failed "
                f"({type(exc).__name__}: {exc}); set MAINT_EMBEDDING_BACKEND=torch to embed "
                "without it, and check free disk space under the data dir"
            ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


class OnnxEmbedder:
    """Embeds with the ONNX export (``precision`` fp32 or int8); tokenizes exactly as the torch
    embedder does, so chunk boundaries (counted in tokens) do not depend on the backend.

    Many texts are shared out to ``threads`` sessions of one thread each, side by side: on 2
    cores 1.3x (fp32) and 1.6x (int8) the speed of one session spreading each short text over
    both threads, with the same vectors (one text per run either way)."""

    def __init__(
        self,
        model_path: str,
        models_dir: Path,
        precision: str = "int8",
        notify=None,
        threads: int = 1,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import onnxruntime as ort
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # chunk-length notices are expected: we count tokens
        source = Path(model_path)
        _, self.max_tokens = _sentence_config(source)
        folder = exported_model(source, models_dir, precision, notify)
        path = str(folder / ONNX_FILE)

        def session(threads: int):
            options = ort.SessionOptions()
            # Waiting threads sleep instead of spinning: on a shared 2-core CPU, spinning ones
            # starve the parser processes and the database (see maint.process).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.intra_op_num_threads = threads
            return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        self.threads = max(1, threads)
        # A question alone runs on all threads (fp32: 5.3 ms against 7.1 on one); many texts
        # on one-thread sessions, made at the first call with several.
        self._single = session(self.threads)
        self._new_session = session
        self._many: list = []
        self._lock = threading.Lock()
        self.model_path = model_path
        self._tokenizer = AutoTokenizer.from_pretrained(source)
        self.dim = int(self._single.get_outputs()[0].shape[-1])
        self._inputs = [i.name for i in self._single.get_inputs()]

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One text per run: needs no padding, and was measured faster on 2 cores than batches
        (fp32: 6.8 s for 200 chunks against 7.4 s in length-sorted batches of 16). For int8
        it also matters: dynamic quantization scales activations per run, so alone a text's
        vector does not depend on its neighbours (a chunk gets the same vector in any batch, a
        question the same as at ingest), closer to fp32 (cosine 0.992 at worst, not 0.991)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoded = self._tokenizer(list(texts), truncation=True, max_length=self.max_tokens)
        stop = threading.Event()  # per call: the server embeds several questions at once
        if len(texts) == 1 or self.threads == 1:
            self._run(self._single, encoded, range(len(texts)), out, stop)
            return out
        with self._lock:
            if not self._many:
                self._many = [self._new_session(1) for _ in range(self.threads)]
        # Longest first, dealt in turn: the sessions' shares come out about even.
        order = sorted(range(len(texts)), key=lambda row: -len(encoded["input_ids"][row]))
        n = min(self.threads, len(texts))
        shares = [order[k::n] for k in range(n)]
        with ThreadPoolExecutor(n, thread_name_prefix="embed") as pool:
            running = [
                pool.submit(self._run, session, encoded, share, out, stop)
                for session, share in zip(self._many, shares, strict=False)
            ]
            try:
                for future in running:
                    future.result()
            finally:  # a Ctrl-C (or a failure) stops the other sessions at their next text
                stop.set()
        return out

    def _run(self, session, encoded, rows: Sequence[int], out: np.ndarray, stop) -> None:
        for row in rows:
            if stop.is_set():
                return
            feed = {name: np.asarray([encoded[name][row]], dtype=np.int64) for name in self._inputs}
            out[row] = session.run(None, feed)[0][0]
