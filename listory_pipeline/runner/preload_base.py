"""What every fork server imports before its first fork (listory_pipeline/runner/launcher.py):
dagster's execution and storage layers, the CLI run-worker body, and the modules a run
imports lazily on its way (each forked worker would otherwise import them again, ~35 ms of
CPU a run: httpx's transport layer, the in-process executor, the compute log manager)."""

import _strptime  # noqa: F401  (datetime.strptime imports it on first use)
import encodings.idna  # noqa: F401  (the first host name encoded for a request imports it)
import os

import dagster._cli.api  # noqa: F401
import dagster._core.execution.plan.active  # noqa: F401
import dagster._core.executor.in_process  # noqa: F401
import dagster._core.storage.event_log.sqlite  # noqa: F401
import dagster._core.storage.local_compute_log_manager  # noqa: F401
import dagster._core.storage.runs.sqlite  # noqa: F401
import dagster._core.storage.sqlite_storage  # noqa: F401
import dagster._core.system_config.composite_descent  # noqa: F401
import dagster._core.utility_ops  # noqa: F401
import dagster._core.workspace.autodiscovery  # noqa: F401
import dagster._utils.temp_file  # noqa: F401
import dagster._utils.test  # noqa: F401
import dagster._utils.test.definitions  # noqa: F401
import httpcore  # noqa: F401  (httpx imports it when its first transport is built)
import watchdog.observers.polling  # noqa: F401

try:  # PostgreSQL storage, when installed, for production instances
    import dagster_postgres  # noqa: F401
except ImportError:  # pragma: no cover - dagster-postgres is a dependency
    pass

import listory_pipeline.runner.worker_io  # noqa: E402,F401
from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes, remember_alembic_heads  # noqa: E402
from listory_pipeline.runner.instance import open_and_close_instance  # noqa: E402

apply_dagster_fixes()  # again, now that dagster-postgres is loaded (see dagster_fixes)
remember_alembic_heads()


def _open_the_instance_once() -> None:
    """Open and close the instance the server's runs will use, once: opening one imports and
    builds what every later opening reuses (fsspec and its plugins' entry points, the storages'
    config types), ~60 ms of CPU that each forked worker paid again. Nothing stays open: the
    worker opens its own connections (runner/worker_io.py). A broken instance only loses that
    speed: each run reports it."""
    if os.environ.get("DAGSTER_HOME"):
        open_and_close_instance("listory fork server: the instance was not opened ahead")


_open_the_instance_once()


def preload_settings():
    """This deployment's settings, or None when they are wrong (the run itself reports that)."""
    from listory_pipeline.settings import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError:
        return None


def resolve_jobs(definitions) -> None:
    """Build a code location's repository and every job in it, once: `Definitions` keeps what it
    built, so a forked worker reconstructing its job from the run's origin finds it ready
    (~15 ms of CPU a run otherwise)."""
    definitions.get_repository_def().get_all_jobs()
