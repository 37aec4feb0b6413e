"""What every fork server imports before its first fork (listory_pipeline/runner/launcher.py):
dagster's execution and storage layers and the CLI run-worker body."""

import dagster._cli.api  # noqa: F401
import dagster._core.storage.event_log.sqlite  # noqa: F401
import dagster._core.storage.runs.sqlite  # noqa: F401

try:  # PostgreSQL storage, when installed, for production instances
    import dagster_postgres  # noqa: F401
except ImportError:  # pragma: no cover - dagster-postgres is a dependency
    pass

from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes  # noqa: E402

apply_dagster_fixes()  # again, now that dagster-postgres is loaded (see dagster_fixes)


def preload_settings():
    """This deployment's settings, or None when they are wrong (the run itself reports that)."""
    from listory_pipeline.settings import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError:
        return None
