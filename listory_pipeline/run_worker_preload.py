"""What the fork server imports once, so forked crawl runs don't: dagster's execution
and storage layers, the CLI run-worker body and the crawl code location."""

import dagster._cli.api  # noqa: F401
import dagster._core.storage.event_log.sqlite  # noqa: F401
import dagster._core.storage.runs.sqlite  # noqa: F401
import listory_pipeline.definitions  # noqa: F401

try:  # PostgreSQL storage, when installed, for production instances
    import dagster_postgres  # noqa: F401
except ImportError:  # pragma: no cover - dagster-postgres is a dependency
    pass


def _warm_embedded_simulator() -> None:
    """With no Spotify credentials each run starts its own simulator: build its catalog once, here."""
    from listory_pipeline.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError:
        return  # the run itself reports the configuration problem
    if settings.uses_simulator and not settings.simulator_url:
        from listory_pipeline.spotify.simulator.catalog import build_catalog
        from listory_pipeline.spotify.simulator.config import SimulatorConfig

        config = SimulatorConfig(seed=settings.simulator_seed)
        build_catalog(config.seed, config.n_artists, config.n_albums, config.n_tracks)


_warm_embedded_simulator()
