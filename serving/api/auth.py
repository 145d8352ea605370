"""API keys: Bearer tokens from ``MAINT_API_KEYS``.

With keys configured every endpoint but ``/health``, ``/ready`` and ``/openapi.json`` needs
one. Without keys the API is open, which ``maint serve`` allows only on a loopback address:
anything that can reach a non-loopback port could otherwise read the manuals and use the
model. A missing and a wrong key get the same 401, which says nothing about the keys.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from maint.errors import MaintError
from maint.settings import Settings
from serving.api.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="One of the keys in MAINT_API_KEYS.")


class BindRefused(MaintError, ValueError):
    """Serving on this address without API keys is not allowed."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def check_bind(host: str, settings: Settings) -> None:
    if settings.api_keys or is_loopback(host):
        return
    raise BindRefused(
        f"refusing to serve on {host} without API keys: anyone who can reach it could query "
        "the manuals. Set MAINT_API_KEYS (comma-separated keys clients send as "
        "'Authorization: Bearer KEY'), or bind to 127.0.0.1."
    )


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Dependency: passes when no keys are configured or the Bearer token is one of them."""
    settings: Settings = request.app.state.settings
    if not settings.api_keys:
        return
    given = credentials.credentials.encode() if credentials else b""
    # Compare against every key, so timing does not tell which one came close.
    keys = [k.get_secret_value().encode() for k in settings.api_keys]
    if not any([secrets.compare_digest(given, key) for key in keys]):
        raise ApiError(
            401,
            "missing or invalid API key; send 'Authorization: Bearer KEY'",
            "invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
