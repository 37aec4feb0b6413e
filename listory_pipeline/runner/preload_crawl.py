"""What the crawl fork server loads once, so forked crawl runs don't: dagster's run-worker
layers (preload_base), the crawl code location with its jobs built, the simulator (and
the embedded one's catalog), the TLS context and DuckDB's process-wide state."""

import gc

import listory_pipeline.crawl.rate_limits  # noqa: F401  (runtime.spotify_client imports it lazily)
from listory_pipeline.definitions import defs
from listory_pipeline.runner.preload_base import preload_settings, resolve_jobs
from listory_pipeline.spotify.tls import shared_tls_context
from listory_pipeline.warehouse.connection import warm_up_duckdb


def _warm_simulator() -> None:
    """Against the simulator each run imports its package (for the simulated app's credentials,
    ~50 ms of CPU); with no simulator URL each run also starts its own: build its catalog once, here."""
    settings = preload_settings()
    if settings is None or not settings.uses_simulator:
        return
    from listory_pipeline.spotify.simulator import SimulatorConfig

    if not settings.simulator_url:
        from listory_pipeline.spotify.simulator.catalog import build_catalog

        config = SimulatorConfig(seed=settings.simulator_seed)
        build_catalog(config.seed, config.n_artists, config.n_albums, config.n_tracks)


resolve_jobs(defs)
_warm_simulator()
shared_tls_context()  # the CA bundle, loaded once for every forked run
warm_up_duckdb()  # DuckDB's functions and extensions, initialised once for every forked run
# what is loaded now lives as long as the server: keep the collector off it in every fork
gc.collect()
gc.freeze()
