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
