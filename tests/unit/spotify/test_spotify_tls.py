"""The TLS context shared by every Spotify client still verifies what httpx verifies."""

import ssl

from listory_pipeline.spotify.auth import SpotifyApp
from listory_pipeline.spotify.client import SpotifyClient
from listory_pipeline.spotify.tls import shared_tls_context


def _client_context(client: SpotifyClient) -> ssl.SSLContext:
    return client._http._transport._pool._ssl_context


def test_clients_share_one_context_that_checks_certificates_and_host_names():
    app = SpotifyApp("client-id", "client-secret")
    with SpotifyClient(app) as first, SpotifyClient(app) as second:
        context = _client_context(first)
        assert context is _client_context(second) is shared_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs(), "the CA bundle is loaded"
