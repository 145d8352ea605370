"""Load benchmark of the HTTP API: concurrent clients against ``POST /v1/query`` on loopback.

Starts ``maint serve`` on a free loopback port against the configured workspace (run
``make demo`` first), waits for ``/ready``, then runs two phases with the same questions
(``data/eval/dev.jsonl``, cycled):

- baseline: one client, one request at a time, for ``--baseline`` seconds;
- load: ``--clients`` concurrent clients for ``--seconds`` seconds. A client that gets 503
  (the answer queue is full) counts a rejection and waits the ``Retry-After`` it was given.

Prints throughput (answers/s), p50/p95/p99 latency of answered requests, errors and queue
rejections per phase, and the load/baseline ratios; writes the same as JSON.

    python benchmarks/serve_load.py [--clients 20] [--seconds 60] [--baseline 20] \
        [--mode hybrid] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _questions() -> list[str]:
    lines = (ROOT / "data" / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _phase(url: str, clients: int, seconds: float, mode: str, questions: list[str]) -> dict:
    latencies: list[float] = []
    counts = {"ok": 0, "rejected": 0, "errors": 0}
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def client(n: int) -> None:
        i = n
        async with httpx.AsyncClient(base_url=url, timeout=300) as http:
            while time.monotonic() < deadline:
                q = questions[i % len(questions)]
                i += clients
                t0 = time.monotonic()
                try:
                    r = await http.post("/v1/query", json={"question": q, "mode": mode})
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                if r.status_code == 200:
                    counts["ok"] += 1
                    latencies.append(time.monotonic() - t0)
                elif r.status_code == 503:
                    counts["rejected"] += 1
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                else:
                    counts["errors"] += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        **counts,
        "answers_per_s": round(counts["ok"] / wall, 3),
        **{
            f"p{int(q * 100)}_s": (round(v, 2) if (v := _percentile(latencies, q)) else None)
            for q in (0.5, 0.95, 0.99)
        },
    }


def _serve(port: int) -> subprocess.Popen:
    maint = Path(sys.executable).parent / "maint"  # the console script of this environment
    cmd = [str(maint), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(cmd, stdout=log, stderr=log, cwd=ROOT)


def _wait_ready(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the server at {url} was not ready after {timeout:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--baseline", type=float, default=20, help="seconds of the 1-client phase")
    p.add_argument("--mode", default="hybrid", choices=["rag", "ft", "hybrid"])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(port)
    try:
        t0 = time.monotonic()
        _wait_ready(url)
        startup = time.monotonic() - t0
        questions = _questions()
        base = asyncio.run(_phase(url, 1, args.baseline, args.mode, questions))
        load = asyncio.run(_phase(url, args.clients, args.seconds, args.mode, questions))
    finally:
        server.terminate()
        server.wait(timeout=30)

    ratio = {
        "throughput": round(load["answers_per_s"] / base["answers_per_s"], 2)
        if base["answers_per_s"]
        else None,
        "p50_latency": round(load["p50_s"] / base["p50_s"], 2)
        if load["p50_s"] and base["p50_s"]
        else None,
    }
    print(f"\nPOST /v1/query, mode {args.mode}, loopback (server ready after {startup:.0f} s)")
    head = f"{'phase':<10}{'clients':>8}{'s':>6}{'ok':>6}{'503':>6}{'errors':>7}"
    print(head + f"{'answers/s':>10}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}")
    for name, r in (("baseline", base), ("load", load)):
        print(
            f"{name:<10}{r['clients']:>8}{r['seconds']:>6.0f}{r['ok']:>6}{r['rejected']:>6}"
            f"{r['errors']:>7}{r['answers_per_s']:>10.3f}"
            + "".join(
                f"{(r[k] if r[k] is not None else float('nan')):>8.2f}"
                for k in ("p50_s", "p95_s", "p99_s")
            )
        )
    print(f"load/baseline: throughput x{ratio['throughput']}, p50 latency x{ratio['p50_latency']}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"serve_load-{stamp}.json"
    result = {
        "mode": args.mode,
        "startup_s": round(startup, 1),
        "baseline": base,
        "load": load,
        "ratio": ratio,
        "load_average": os.getloadavg(),
    }
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
