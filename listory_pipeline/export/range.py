"""Which plays an export covers: local dates of the user, turned into UTC bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

# Wider than any play: the bounds of "everything".
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ExportRange:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC

    @classmethod
    def of_local_dates(cls, first: date | None, last: date | None, timezone_name: str) -> "ExportRange":
        """Plays whose local date (the user's time zone, as in the reports) is within [first, last]."""
        if first is not None and last is not None and last < first:
            raise ValueError(f"--to {last} is before --from {first}")
        zone = ZoneInfo(timezone_name)
        start = datetime.combine(first, time(0), zone).astimezone(timezone.utc) if first else EARLIEST
        end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(timezone.utc) if last else LATEST
        return cls(start, end)

    def params(self, user_id: str) -> dict:
        return {"user_id": user_id, "start": self.start, "end": self.end}
