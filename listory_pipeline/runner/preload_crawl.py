"""What the crawl fork server loads once, so forked crawl runs don't: dagster's run-worker
layers (preload_base), the crawl code location, the embedded simulator's catalog, the TLS
context and DuckDB's process-wide state."""

import gc

import listory_pipeline.definitions  # noqa: F401
from listory_pipeline.runner.preload_base import preload_settings
from listory_pipeline.spotify.tls import shared_tls_context
from listory_pipeline.warehouse.connection import warm_up_duckdb


def _warm_embedded_simulator() -> None:
    """With no Spotify credentials each run starts its own simulator: build its catalog once, here."""
    settings = preload_settings()
    if settings is not None and settings.uses_simulator and not settings.simulator_url:
        from listory_pipeline.spotify.simulator.catalog import build_catalog
        from listory_pipeline.spotify.simulator.config import SimulatorConfig

        config = SimulatorConfig(seed=settings.simulator_seed)
        build_catalog(config.seed, config.n_artists, config.n_albums, config.n_tracks)


_warm_embedded_simulator()
shared_tls_context()  # the CA bundle, loaded once for every forked run
warm_up_duckdb()  # DuckDB's functions and extensions, initialised once for every forked run
# what is loaded now lives as long as the server: keep the collector off it in every fork
gc.collect()
gc.freeze()
