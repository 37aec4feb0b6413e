"""One TLS context for every Spotify client of a process.

httpx builds a fresh context for each client and loads the whole CA bundle into it, about
20 ms of CPU; a crawl run opens two clients. The context is built once per process instead
(and once per fork server: forked run workers inherit it), with httpx's own defaults, so
certificates and host names are verified exactly as before and `SSL_CERT_FILE` /
`SSL_CERT_DIR` are still honoured.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
