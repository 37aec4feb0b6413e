"""Which runs of Dagster's history may be deleted, and which must stay whatever their age.

Dagster OSS deletes nothing by itself; a crawl run every minute per listening user leaves
hundreds of runs a day. Old runs may go, except those that hold what the pipeline and the UI
still read: the latest materialization of every asset partition (the sensors learn each
user's last crawl from it, the partitions' status and each asset's page show it) and the
newest successful run of every job and partition (its check results). Runs still queued or
in progress are never candidates, and import runs are kept: they are rare and are the only
record of where a user's past came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Jobs whose old runs are purged; every other job's runs are kept.
PURGED_JOBS = ("crawl_user_job", "build_reports_job", "resolve_imported_tracks_job", "dagster_retention_job")


@dataclass(frozen=True)
class RetentionPolicy:
    success_days: float = 14.0
    # failed and canceled runs are kept longer: they are what someone debugging needs
    failure_days: float = 90.0

    def __post_init__(self) -> None:
        if self.success_days <= 0 or self.failure_days <= 0:
            raise ValueError(f"retention ages must be positive (got {self.success_days} and {self.failure_days} days)")

    def success_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.success_days)

    def failure_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.failure_days)

    @classmethod
    def from_settings(cls, settings) -> "RetentionPolicy":
        return cls(success_days=settings.retention_success_days, failure_days=settings.retention_failure_days)
