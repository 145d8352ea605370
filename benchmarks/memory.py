"""Memory benchmark: peak RSS of ``maint ingest``, of ``maint serve`` answering questions and of
the demo's QLoRA training step, against issue 18's targets (ingest and serve 2 GB, the demo
4 GB); and tokens/s of the training step with each memory option of ``finetune/config.py``
against the plain baseline, in the same run.

Every measurement is a subprocess; its peak is the largest sum of the resident set sizes of
the process and its children (parse-ahead workers), sampled every 0.1 s, and never less than
the process's own peak as the kernel counts it. The embedded servers are started beforehand
and are not counted.

1. ingest: ``maint ingest data/samples/manuals`` into a fresh workspace (the configured
   settings: ``MAINT_EMBEDDING_BACKEND``, ``MAINT_PARSE_WORKERS`` from the environment).
2. serve: ``maint serve`` on loopback, ready, then ``--questions`` questions of
   ``data/eval/dev.jsonl`` through ``POST /v1/query`` in hybrid mode, one at a time.
3. train: the training step of ``finetune/configs/demo.yaml`` on its real training data
   (``DATA_DIR/finetune/dataset`` of the workspace named by ``--dataset``, else of the
   configured workspace where ``make demo`` left it, else built in the fresh workspace,
   about 4 minutes): the epoch's largest batch first (the step that sets the peak), then the
   demo's first ``--steps`` batches, timed. Once per variant: ``baseline`` (the model's own
   loss over full logits, no checkpointing, sdpa attention: the demo before issue 18), each
   option added alone, and ``configured`` (demo.yaml as shipped).

    python benchmarks/memory.py [--steps 2] [--questions 3] [--only ingest,serve,train]
        [--dataset DIR] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
DEMO = ROOT / "finetune" / "configs" / "demo.yaml"
TARGET_MB = {"ingest": 2048, "serve": 2048, "train": 4096}
# The ingest and serve baseline: as before issue 18 (sentence-transformers' torch embedder,
# files parsed in the ingesting process), measured in the same run as the shipped settings.
BASELINE_ENV = {"MAINT_EMBEDDING_BACKEND": "torch", "MAINT_PARSE_WORKERS": "0"}
# name -> overrides of demo.yaml for the training step: the demo before issue 18 (the model's
# own loss over whole logits, no checkpointing, sdpa attention as transformers picks it, no
# malloc_trim), each option alone, and demo.yaml as shipped.
PLAIN = {
    "loss_chunk_tokens": 0,
    "gradient_checkpointing": False,
    "attn_implementation": "sdpa",
    "malloc_trim": False,
}
VARIANTS = {
    "baseline": PLAIN,
    "eager attention": {**PLAIN, "attn_implementation": "eager"},
    "chunked loss": {**PLAIN, "loss_chunk_tokens": 1024},
    "checkpointing": {**PLAIN, "gradient_checkpointing": True},
    "malloc_trim": {**PLAIN, "malloc_trim": True},
    "configured": {},
}


# -- measuring a subprocess ----------------------------------------------------------------
def measured(cmd: list[str], env: dict[str, str], during=None) -> dict:
    """Run ``cmd``; its exit code, seconds, peak RSS of its process tree (MB) and output.
    ``during(proc)``, if given, runs in this process while ``cmd`` does (a client)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=errors)
        peak, usage = _watch(proc, during)
        out.seek(0)
        errors.seek(0)
        return {
            "rc": proc.returncode,
            "seconds": round(time.perf_counter() - start, 1),
            "peak_rss_mb": round(max(peak / 2**20, usage.ru_maxrss / 1024)),
            "stdout": out.read().decode(errors="replace"),
            "stderr": errors.read().decode(errors="replace")[-3000:],
        }


def _watch(proc: subprocess.Popen, during) -> tuple[int, object]:
    """Sample the tree's RSS until ``proc`` exits; the largest sum, and its rusage."""
    import threading

    import psutil

    peak, done = [0], threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            peak[0] = max(peak[0], total)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        if during is not None:
            during(proc)
    finally:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    return peak[0], usage


def _maint(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "maint"), *args]


def _check(name: str, r: dict) -> dict:
    if r["rc"] != 0:
        sys.exit(f"{name} failed (exit {r['rc']}):\n{r['stderr']}")
    return r


# -- ingest and serve ----------------------------------------------------------------------
def bench_ingest(env: dict[str, str], what: str = "maint ingest data/samples/manuals") -> dict:
    r = _check("maint ingest", measured(_maint("ingest", str(SAMPLES), "--json"), env))
    summary = json.loads(r["stdout"])
    return {
        "what": what,
        "pages": summary["pages"],
        "chunks": summary["chunks"],
        "seconds": r["seconds"],
        "peak_rss_mb": r["peak_rss_mb"],
        "target_mb": TARGET_MB["ingest"],
    }


def bench_serve(env: dict[str, str], questions: int, what: str = "maint serve") -> dict:
    import httpx

    from benchmarks.serve_load import _free_port, _questions, _wait_ready

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    asked = _questions()[:questions]
    answered = []

    def client(proc) -> None:
        try:
            _wait_ready(url)
            for q in asked:
                r = httpx.post(
                    f"{url}/v1/query", json={"question": q, "mode": "hybrid"}, timeout=600
                )
                answered.append(r.status_code == 200)
        finally:
            proc.terminate()

    cmd = _maint("serve", "--host", "127.0.0.1", "--port", str(port))
    r = measured(cmd, env, during=client)
    if len(answered) != len(asked) or not all(answered):
        sys.exit(f"maint serve answered {sum(answered)} of {len(asked)}:\n{r['stderr']}")
    return {
        "what": f"{what}, {len(asked)} questions (hybrid)",
        "questions": len(asked),
        "seconds": r["seconds"],
        "peak_rss_mb": r["peak_rss_mb"],
        "target_mb": TARGET_MB["serve"],
    }


# -- the training step ---------------------------------------------------------------------
def pick_batches(dataset: Path, steps: int, model_path: str) -> list[list[dict]]:
    """The demo's largest batch of the epoch (most padded tokens, then the longest), then its
    first ``steps`` batches, tokenised as training does."""
    from transformers import AutoTokenizer

    from finetune.config import TrainConfig
    from finetune.train import length_grouped_batches, read_examples, tokenise

    cfg = TrainConfig.load(DEMO)
    report = json.loads((dataset / "report.json").read_text())
    formats = ["closed", "raft"] if cfg.format == "both" else [cfg.format]
    files = [Path(report["files"][f"{f}_train"]) for f in formats]
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    examples = [t for m in read_examples(files) if (t := tokenise(tokenizer, m, cfg.max_seq_len))]
    lengths = [len(t["input_ids"]) for t in examples]
    batches = length_grouped_batches(lengths, cfg.batch_size, cfg.batch_tokens, cfg.seed)

    def size(b: list[int]) -> tuple[int, int]:
        longest = max(lengths[j] for j in b)
        return len(b) * longest, longest

    chosen = [max(batches, key=size), *batches[:steps]]
    return [[examples[j] for j in b] for b in chosen]


def train_step_child(overrides: dict, batches_file: Path, model_path: str) -> dict:
    """In a child process: the demo's model with ``overrides``, one optimiser step per batch
    (the first untimed); tokens/s of the others, losses, peak RSS of this process."""
    import resource

    import torch

    from finetune.config import TrainConfig
    from finetune.train import collate, load_model, make_optimizer, train_step

    cfg = TrainConfig.load(DEMO, **overrides)
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_model(cfg, model_path, "cpu")
    model.train()
    optimizer = make_optimizer(cfg, model)
    batches = json.loads(batches_file.read_text())
    losses, tokens, seconds, cpu = [], 0, 0.0, 0.0
    for n, examples in enumerate(batches):
        micro = [collate(examples, tokenizer.pad_token_id)]
        start, start_cpu = time.perf_counter(), time.process_time()
        loss, read = train_step(cfg, model, optimizer, micro, "cpu")
        if n:  # the first (largest) batch warms up and sets the peak
            seconds += time.perf_counter() - start
            cpu += time.process_time() - start_cpu  # all threads: steadier on a busy machine
            tokens += read
        losses.append(round(loss, 5))
    return {
        "tokens_per_s": round(tokens / seconds, 1) if seconds else None,
        "tokens_per_cpu_s": round(tokens / cpu, 1) if cpu else None,
        "timed_tokens": tokens,
        "losses": losses,
        "peak_rss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def bench_train(env: dict[str, str], dataset: Path, steps: int, model_path: str) -> list[dict]:
    from finetune.config import TrainConfig

    shipped = TrainConfig.load(DEMO)
    batches = pick_batches(dataset, steps, model_path)
    work = Path(tempfile.mkdtemp(prefix="maint-bench-train-"))
    batches_file = work / "batches.json"
    batches_file.write_text(json.dumps(batches))
    peak_batch = batches[0]
    results = []
    try:
        for name, overrides in VARIANTS.items():
            cfg = TrainConfig.load(DEMO, **overrides)
            child = ["--train-step", json.dumps(overrides), str(batches_file), model_path]
            cmd = [sys.executable, __file__, *child]
            r = _check(f"training step ({name})", measured(cmd, env))
            out = json.loads(r["stdout"].strip().splitlines()[-1])
            results.append(
                {
                    "variant": name,
                    "loss_chunk_tokens": cfg.loss_chunk_tokens,
                    "gradient_checkpointing": cfg.gradient_checkpointing,
                    "attn_implementation": cfg.attn_implementation,
                    "malloc_trim": cfg.malloc_trim,
                    "batch_tokens": shipped.batch_tokens,
                    "peak_batch": f"{len(peak_batch)} x "
                    f"{max(len(e['input_ids']) for e in peak_batch)} tokens",
                    "seconds": r["seconds"],
                    "peak_rss_mb": r["peak_rss_mb"],
                    "target_mb": TARGET_MB["train"],
                    **out,
                }
            )
            print(
                f"  train/{name}: {r['peak_rss_mb']} MB, {out['tokens_per_s']} tokens/s",
                file=sys.stderr,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base, base_cpu = results[0]["tokens_per_s"], results[0]["tokens_per_cpu_s"]
    for r in results:
        r["speed_vs_baseline"] = round(r["tokens_per_s"] / base, 3) if base else None
        r["cpu_speed_vs_baseline"] = (
            round(r["tokens_per_cpu_s"] / base_cpu, 3) if base_cpu else None
        )
    return results


# -- the run -------------------------------------------------------------------------------
def _print(*measures: dict | None, train: list[dict]) -> None:
    print(f"\n{'what':<50}{'peak RSS MB':>12}{'target MB':>10}{'':>6}{'seconds':>9}")
    rows = [r for r in measures if r]
    rows += [{**t, "what": f"demo training step: {t['variant']}"} for t in train]
    for r in rows:
        ok = "ok" if r["peak_rss_mb"] <= r["target_mb"] else "OVER"
        print(
            f"{r['what']:<50}{r['peak_rss_mb']:>12,}{r['target_mb']:>10,}{ok:>6}"
            f"{r['seconds']:>9.0f}"
        )
    if train:
        print(
            f"\n{'training step':<22}{'loss slices':>12}{'checkpoint':>11}{'attention':>10}"
            f"{'trim':>5}{'tokens/s':>9}{'vs base':>8}{'per CPU s':>10}{'vs base':>8}"
            f"{'RSS MB':>8}  losses"
        )
        for t in train:
            print(
                f"{t['variant']:<22}{t['loss_chunk_tokens'] or 'whole':>12}"
                f"{'yes' if t['gradient_checkpointing'] else 'no':>11}"
                f"{t['attn_implementation']:>10}{'yes' if t['malloc_trim'] else 'no':>5}"
                f"{t['tokens_per_s']:>9.1f}"
                f"{t['speed_vs_baseline']:>8.2f}{t['tokens_per_cpu_s']:>10.1f}"
                f"{t['cpu_speed_vs_baseline']:>8.2f}{t['peak_rss_mb']:>8,}  {t['losses']}"
            )
        print(
            f"(largest batch of the epoch: {train[0]['peak_batch']}; tokens/s over "
            f"{train[0]['timed_tokens']} tokens of the demo's first batches)"
        )


def main() -> None:
    from maint.process import setup

    setup()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2, help="timed training steps per variant")
    parser.add_argument("--questions", type=int, default=3, help="questions asked of the server")
    parser.add_argument("--only", default="ingest,serve,train", help="comma-separated parts")
    parser.add_argument("--dataset", type=Path, help="a training-data folder to use")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--train-step", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_step:  # child process
        overrides, batches_file, model_path = args.train_step
        print(json.dumps(train_step_child(json.loads(overrides), Path(batches_file), model_path)))
        return

    from infra.embedded import remove_workspace
    from maint.settings import Settings
    from serving.answering.models import bundled_model_path

    parts = set(args.only.split(","))
    configured = Settings()
    work = Path(tempfile.mkdtemp(prefix="maint-bench-memory-"))
    data_dir = work / "data"
    env = {**os.environ, "MAINT_DATA_DIR": str(data_dir)}
    # The converted bundled model is shared, not converted again in the fresh workspace.
    settings = Settings(data_dir=data_dir, model_cache_dir=configured.models_dir)
    env["MAINT_MODEL_CACHE_DIR"] = str(configured.models_dir)
    ingest = serve = ingest_base = serve_base = None
    train: list[dict] = []
    # The baseline ingests into a workspace of its own (the shipped one would skip the files).
    base_env = {**env, **BASELINE_ENV, "MAINT_DATA_DIR": str(work / "baseline")}
    try:
        if "ingest" in parts:
            _check("maint services start", measured(_maint("services", "start"), base_env))
            try:
                ingest_base = bench_ingest(base_env, "baseline: torch embedder, parsed in process")
                print(f"  ingest baseline: {ingest_base['peak_rss_mb']} MB", file=sys.stderr)
            finally:
                subprocess.run(_maint("services", "stop"), env=base_env, capture_output=True)
                remove_workspace(work / "baseline")
        _check("maint services start", measured(_maint("services", "start"), env))
        dataset = args.dataset or configured.data_dir / "finetune" / "dataset"
        build = "train" in parts and not (dataset / "report.json").is_file()
        if parts & {"ingest", "serve"} or build:
            ingest = bench_ingest(env)
            print(f"  ingest: {ingest['peak_rss_mb']} MB", file=sys.stderr)
        if "serve" in parts:
            serve = bench_serve(env, args.questions)
            print(f"  serve: {serve['peak_rss_mb']} MB", file=sys.stderr)
            serve_base = bench_serve(
                {**env, **BASELINE_ENV}, args.questions, "baseline: torch embedder"
            )
            print(f"  serve baseline: {serve_base['peak_rss_mb']} MB", file=sys.stderr)
        if "train" in parts:
            if build:
                print("  building the training data (maint finetune dataset)", file=sys.stderr)
                _check("maint finetune dataset", measured(_maint("finetune", "dataset"), env))
                dataset = data_dir / "finetune" / "dataset"
            model_path = str(bundled_model_path(settings))
            train = bench_train(env, dataset, args.steps, model_path)
    finally:
        subprocess.run(_maint("services", "stop"), env=env, capture_output=True)
        remove_workspace(data_dir)
        shutil.rmtree(work, ignore_errors=True)
    if "ingest" not in parts:
        ingest = None
    for shipped, base in ((ingest, ingest_base), (serve, serve_base)):
        if shipped and base:
            shipped["baseline_peak_rss_mb"] = base["peak_rss_mb"]
            shipped["vs_baseline"] = round(shipped["peak_rss_mb"] / base["peak_rss_mb"], 2)
    _print(ingest, ingest_base, serve, serve_base, train=train)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "benchmark": "memory",
        "at": stamp,
        "load_average": os.getloadavg(),
        "ingest": ingest,
        "ingest_baseline": ingest_base,
        "serve": serve,
        "serve_baseline": serve_base,
        "train": train,
    }
    for path in (args.out / f"memory-{stamp}.json", args.out / "memory.json"):
        path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out / 'memory.json'}")


if __name__ == "__main__":
    main()
