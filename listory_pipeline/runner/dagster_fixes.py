"""A correction to Dagster applied in every process that loads this project's code.

A step waiting for a pool slot (the warehouse's `duckdb` pool of one) is meant to sleep until
its next claim check, but Dagster 1.13's `InstanceConcurrencyContext.interval_to_next_pending_claim_check`
returns `min(0, ...)`, never more than zero, so the in-process executor loops without sleeping:
a crawl run queued behind another run's load burned a whole core while it waited (3.0 CPU-s a
run under `listory ui` with 20 users, against 0.8 when it did not wait). The claim itself is
re-checked on the same schedule either way; only the spinning goes. The intended behaviour
(the time until the earliest pending check, never negative) replaces the method, once.
"""

from __future__ import annotations

import time

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    if not self._pending_claims:
        return 0.0
    now = time.time()
    waits = [ready_at - now for ready_at in self._pending_timeouts.values()]
    return max(0.0, min(waits)) if waits else 0.0


def apply_dagster_fixes() -> None:
    """Idempotent; safe to call from every entry point (code locations, fork servers)."""
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = _interval_to_next_pending_claim_check
