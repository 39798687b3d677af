"""The bearer token that guards the REST API's writes.

Taken from ``[qroute] api_token`` when set; otherwise generated at start-up and written to
``api_token_file`` (created with mode 0600, replaced atomically, its folder created 0700), so only
the controller's user can read it. Reads of the API stay open (on loopback by default).
"""
from __future__ import annotations

import hmac
import os
import secrets
import tempfile

DEFAULT_TOKEN_FILE = "~/.qroute/api-token"


def provision_token(configured: str, token_file: str) -> tuple[str, str]:
    """(token, where it can be read): the configured one, or a new one written to the file."""
    if configured:
        return configured, "[qroute] api_token"
    path = os.path.expanduser(token_file or DEFAULT_TOKEN_FILE)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    token = secrets.token_urlsafe(32)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".api-token-")  # created 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return token, path


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries this bearer token (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    # compared as bytes: compare_digest refuses str with characters outside ASCII
    return scheme.lower() == "bearer" and bool(token) and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape"))
