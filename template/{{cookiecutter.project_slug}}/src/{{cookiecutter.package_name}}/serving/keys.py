"""API keys: with ``<PKG>_API_KEYS`` set, scoring needs ``Authorization:
Bearer <key>``. Keys are compared by their SHA-256 digests, each with
:func:`hmac.compare_digest`, so the time taken tells nothing about a key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Optional

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

UNAUTHORIZED = "A valid API key is required: send Authorization: Bearer <key>."

bearer = HTTPBearer(auto_error=False, description="One of the service's API keys.")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_check(keys: list[str]) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that refuses, with 401, a request without one of
    ``keys`` as its bearer token."""
    digests = [digest(key) for key in keys]

    # async: a plain function would be run in a worker thread, for nothing.
    async def require_key(
        credentials: Annotated[
            Optional[HTTPAuthorizationCredentials], Security(bearer)
        ],
    ) -> None:
        given = digest(credentials.credentials if credentials else "")
        # Every key is compared: no early exit that a clock could notice.
        matches = [hmac.compare_digest(given, known) for known in digests]
        if not any(matches):
            raise HTTPException(
                status_code=401,
                detail=UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_key
