"""``maint serve``: the HTTP API under uvicorn."""

from __future__ import annotations

import logging

import typer

from maint.output import err
from maint.process import setup
from maint.settings import Settings


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. Anything but loopback needs API keys (MAINT_API_KEYS).",
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
) -> None:
    """Serve the HTTP API: OpenAI-compatible chat, structured queries, health and metrics.

    Opens the stores (starting the embedded servers when none are configured) and loads the
    model once, then answers on http://HOST:PORT. Logs one JSON line per request on stderr.

    Examples:

      maint serve

      MAINT_API_KEYS=secret1,secret2 maint serve --host 0.0.0.0 --port 8080

      curl -s localhost:8000/v1/query -H 'Content-Type: application/json' \\
        -d '{"question": "Part number of the DG-450 oil filter?", "mode": "rag"}'
    """
    from serving.api.auth import BindRefused, check_bind

    setup()  # already done by the `maint` root; here too for a serve() called on its own
    settings: Settings = ctx.obj
    try:
        check_bind(host, settings)
    except BindRefused as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None

    import uvicorn

    from serving.api.app import create_app
    from serving.api.observe import configure_logging

    configure_logging()
    # log_config=None: uvicorn's loggers go through maint's JSON lines (its start-up chatter
    # is INFO, below the WARNING kept for other libraries); maint says where it listens.
    logging.getLogger("maint.api").info(
        "starting", extra={"fields": {"url": f"http://{host}:{port}"}}
    )
    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_config=None)
