"""What the reports fork server does once, so forked report runs don't: import dagster's
run-worker layers (preload_base) and the reports code location, import dbt, parse
the project and build it once into a scratch warehouse (listory_pipeline/reports/dbt_runner.py).
A report run forked from here starts running models at once."""

import gc
import sys

from listory_pipeline.runner.preload_base import preload_settings, resolve_jobs


def _warm_reports() -> None:
    """A failure here only costs speed: the run then imports and parses itself, and reports the
    problem if it persists."""
    settings = preload_settings()
    if settings is None:
        return
    try:
        from listory_pipeline.reports import dbt_runner
        from listory_pipeline.reports_definitions import defs

        resolve_jobs(defs)

        seconds = dbt_runner.warm_up(settings)
        print(f"listory reports fork server: dbt parsed and warmed in {seconds:.1f} s", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the server must start either way
        print(f"listory reports fork server: dbt not preloaded ({type(exc).__name__}: {exc})", file=sys.stderr)


_warm_reports()
gc.collect()
gc.freeze()
