"""accounts.spotify.com: the token endpoint and the authorize page.

Errors follow Spotify's accounts service: HTTP 400 with
`{"error": ..., "error_description": ...}`. Bad client credentials answer 400
`invalid_client` (Spotify's accounts service does the same; we never use 401).
Every app registered in the config is a client; codes and refresh tokens are
bound to the app that obtained them, and another app presenting them gets
`invalid_grant`, as on Spotify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from listory_pipeline.spotify.simulator.simulator import ACCESS_TOKEN_SECONDS, SCOPE, Simulator

CODE_LIFETIME_SECONDS = 600

Answer = tuple[int, dict[str, str], Any]
"""(status, extra headers, JSON body or plain-text page)."""


def _oauth_error(error: str, description: str) -> Answer:
    return 400, {}, {"error": error, "error_description": description}


def _presented_credentials(form: dict[str, str], authorization: str | None) -> tuple[str | None, str | None] | None:
    """(client id, secret or None) as the request gives them; None for an unreadable Basic header."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
    return client_id, secret


def presented_client_id(form: dict[str, str], authorization: str | None) -> str | None:
    """The client id a token request names, checked or not: what per-client counters count."""
    presented = _presented_credentials(form, authorization)
    return presented[0] if presented else None


def _client(sim: Simulator, form: dict[str, str], authorization: str | None) -> tuple[Answer | None, str, bool]:
    """(error answer or None, the authenticated client id, whether the client proved its secret)."""
    client_id, secret = _presented_credentials(form, authorization) or (None, None)
    expected = sim.app_secret(client_id)  # None for no client id, an unreadable header or an unknown app
    if client_id is None or expected is None:
        return _oauth_error("invalid_client", "Invalid client"), "", False
    if secret is not None and secret != expected:
        return _oauth_error("invalid_client", "Invalid client secret"), "", False
    return None, client_id, secret is not None


def token(sim: Simulator, form: dict[str, str], authorization: str | None) -> Answer:
    grant = form.get("grant_type")
    if not grant:
        return _oauth_error("unsupported_grant_type", "grant_type parameter is missing")
    if grant not in ("refresh_token", "client_credentials", "authorization_code"):
        return _oauth_error("unsupported_grant_type", f"grant_type {grant} is not supported")
    error, client_id, confidential = _client(sim, form, authorization)
    if error:
        return error

    if grant == "client_credentials":
        if not confidential:
            return _oauth_error("invalid_client", "Invalid client secret")
        return 200, {}, {
            "access_token": sim.access_token_for(None, client_id),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        }

    if grant == "refresh_token":
        # Public (PKCE) clients may refresh with their client_id alone, as on Spotify.
        # A token another app obtained is as unknown to this app as a forged one.
        user_id = sim.user_for_refresh_token(form.get("refresh_token", ""), client_id)
        if user_id is None:
            return _oauth_error("invalid_grant", "Invalid refresh token")
        body = _user_tokens(sim, user_id, client_id)
        if sim.faults.rotate_refresh_tokens:
            body["refresh_token"] = sim.new_refresh_token(user_id, client_id)
        return 200, {}, body

    code = form.get("code", "")
    claims = sim.signer.open_authorization_code(code)
    if not claims or claims.get("cid") != client_id:
        return _oauth_error("invalid_grant", "Invalid authorization code")
    if claims.get("exp", 0) <= sim.clock.now().timestamp():
        return _oauth_error("invalid_grant", "Authorization code expired")
    if form.get("redirect_uri") != claims.get("ru"):
        return _oauth_error("invalid_grant", "Invalid redirect URI")
    challenge = claims.get("cc")
    if challenge:
        verifier = form.get("code_verifier", "")
        if not verifier or pkce_challenge(verifier) != challenge:
            return _oauth_error("invalid_grant", "code_verifier was incorrect")
    elif not confidential:
        return _oauth_error("invalid_client", "Invalid client secret")
    if claims.get("sub") not in {u.user_id for u in sim.users()}:
        return _oauth_error("invalid_grant", "Invalid authorization code")
    if not sim.spend_code(code):
        return _oauth_error("invalid_grant", "Invalid authorization code")
    body = _user_tokens(sim, claims["sub"], client_id)
    body["refresh_token"] = sim.new_refresh_token(claims["sub"], client_id)
    return 200, {}, body


def _user_tokens(sim: Simulator, user_id: str, client_id: str) -> dict[str, Any]:
    return {
        "access_token": sim.access_token_for(user_id, client_id),
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": SCOPE,
    }


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect_uri_problem(uri: str) -> str | None:
    """Spotify's 2026 rules: https anywhere, plain http only to a loopback IP literal."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return "Invalid redirect URI"
    if parts.scheme not in ("http", "https") or not host:
        return "Invalid redirect URI"
    if host == "localhost":
        return "Insecure redirect URI: use http://127.0.0.1:PORT instead of localhost"
    if parts.scheme == "http" and host not in ("127.0.0.1", "::1"):
        return "Insecure redirect URI"
    return None


def authorize(sim: Simulator, query: dict[str, str]) -> Answer:
    """Auto-approve, for any registered app, as the user named by `sim_user` (default: the first user)."""
    client_id = query.get("client_id")
    if sim.app_secret(client_id) is None:
        return 400, {}, "INVALID_CLIENT: Invalid client"
    redirect_uri = query.get("redirect_uri", "")
    problem = _redirect_uri_problem(redirect_uri)
    if problem:
        return 400, {}, f"INVALID_CLIENT: {problem}"
    if query.get("response_type") != "code":
        return 400, {}, "unsupported_response_type: response_type must be code"
    challenge = query.get("code_challenge", "")
    method = query.get("code_challenge_method")
    if (challenge or method) and (method != "S256" or not challenge):
        return 400, {}, "invalid_request: PKCE needs code_challenge_method=S256 and a code_challenge"
    user_id = query.get("sim_user") or sim.users()[0].user_id
    if sim.user(user_id) is None:
        return 400, {}, f"invalid_request: unknown sim_user {user_id}"
    code = sim.signer.authorization_code({
        "sub": user_id,
        "cid": client_id,
        "ru": redirect_uri,
        "cc": challenge,
        "exp": int(sim.clock.now().timestamp()) + CODE_LIFETIME_SECONDS,
        "n": secrets.token_hex(6),
    })
    params = {"code": code}
    if "state" in query:
        params["state"] = query["state"]
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return 302, {"Location": f"{redirect_uri}{separator}{urlencode(params)}"}, ""
