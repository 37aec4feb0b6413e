"""What the fork server does once, so forked runs don't: import dagster's execution and storage
layers, the CLI run-worker body and both code locations; build the embedded simulator's
catalog; import dbt and parse the project, with one scratch build (a forked report run then
starts running models at once, see listory_pipeline/reports/dbt_runner.py)."""

import gc
import sys

import dagster._cli.api  # noqa: F401
import dagster._core.storage.event_log.sqlite  # noqa: F401
import dagster._core.storage.runs.sqlite  # noqa: F401
import listory_pipeline.definitions  # noqa: F401

try:  # PostgreSQL storage, when installed, for production instances
    import dagster_postgres  # noqa: F401
except ImportError:  # pragma: no cover - dagster-postgres is a dependency
    pass


def _settings():
    from listory_pipeline.settings import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError:
        return None  # the run itself reports the configuration problem


def _warm_embedded_simulator(settings) -> None:
    """With no Spotify credentials each run starts its own simulator: build its catalog once, here."""
    if settings.uses_simulator and not settings.simulator_url:
        from listory_pipeline.spotify.simulator.catalog import build_catalog
        from listory_pipeline.spotify.simulator.config import SimulatorConfig

        config = SimulatorConfig(seed=settings.simulator_seed)
        build_catalog(config.seed, config.n_artists, config.n_albums, config.n_tracks)


def _warm_reports(settings) -> None:
    """The reports location and a parsed, once-run dbt project. A failure here only costs speed:
    the report run then imports and parses itself, and reports the problem if it persists."""
    try:
        import listory_pipeline.reports_definitions  # noqa: F401
        from listory_pipeline.reports import dbt_runner

        seconds = dbt_runner.warm_up(settings)
        print(f"listory run-worker fork server: dbt parsed and warmed in {seconds:.1f} s", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - never keep crawl runs from starting
        print(f"listory run-worker fork server: reports not preloaded ({type(exc).__name__}: {exc})", file=sys.stderr)


_preload_settings = _settings()
if _preload_settings is not None:
    _warm_embedded_simulator(_preload_settings)
    _warm_reports(_preload_settings)
# everything loaded so far lives as long as the server: keep the collector off it in every fork
gc.collect()
gc.freeze()
