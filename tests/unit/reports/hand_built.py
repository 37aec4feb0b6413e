"""Hand-built listens whose report answers tests work out by hand (see test_report_tables.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from tests.unit.reports.builders import Catalog

AS_OF = date(2027, 1, 4)  # a Monday

UTC = timezone.utc
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def jst(*parts) -> datetime:
    return datetime(*parts, tzinfo=TOKYO)


def hand_built_catalog() -> Catalog:
    """The listens whose answers tests/unit/reports/test_report_tables.py works out by hand."""
    c = Catalog()
    c.users = [
        ("berlin", "Europe/Berlin"),
        ("newyork", "America/New_York"),
        ("tokyo", "Asia/Tokyo"),
        ("empty", "Europe/Berlin"),
    ]
    c.artists = [
        ("a1", "Alpha", ["rock", "pop"]),
        ("a2", "Beta", ["rock"]),
        ("a3", "Alpha", []),  # no genre, same name as a1
        ("a4", "Delta", ["jazz"]),
    ]
    c.albums = [("al1", "Album X"), ("al2", "Album Y")]
    c.tracks = [
        ("t1", "Song One", 180_000, "al1", ["a1", "a2"]),  # a duet
        ("t2", "Song Two", 240_000, "al2", ["a3"]),
        ("t3", "Song Three", 120_000, "al1", ["a4"]),
    ]
    c.listens = [
        # Europe/Berlin: CET→CEST on 2026-03-29 at 01:00 UTC, CEST→CET on 2026-10-25 at 01:00 UTC
        ("berlin", "t1", utc(2026, 3, 28, 23, 30), None),  # 03-29 00:30 CET
        ("berlin", "t1", utc(2026, 3, 29, 0, 59), None),  # 03-29 01:59 CET
        ("berlin", "t2", utc(2026, 3, 29, 1, 0), None),  # 03-29 03:00 CEST
        ("berlin", "t2", utc(2026, 3, 29, 22, 30), None),  # 03-30 00:30 CEST
        ("berlin", "t3", utc(2026, 10, 25, 0, 30), None),  # 10-25 02:30 CEST
        ("berlin", "t3", utc(2026, 10, 25, 1, 30), None),  # 10-25 02:30 CET (the hour again)
        ("berlin", "t3", utc(2026, 10, 25, 22, 59), None),  # 10-25 23:59 CET
        ("berlin", "t3", utc(2026, 10, 25, 23, 0), None),  # 10-26 00:00 CET
        # America/New_York: EST→EDT on 2026-03-08 at 07:00 UTC, EDT→EST on 2026-11-01 at 06:00 UTC
        ("newyork", "t1", utc(2026, 3, 8, 4, 59), None),  # 03-07 23:59 EST
        ("newyork", "t1", utc(2026, 3, 8, 5, 0), None),  # 03-08 00:00 EST
        ("newyork", "t1", utc(2026, 3, 9, 3, 59), None),  # 03-08 23:59 EDT
        ("newyork", "t1", utc(2026, 3, 9, 4, 0), None),  # 03-09 00:00 EDT
        ("newyork", "t2", utc(2026, 11, 1, 4, 0), None),  # 11-01 00:00 EDT
        ("newyork", "t2", utc(2026, 11, 1, 5, 30), None),  # 11-01 01:30 EDT
        ("newyork", "t2", utc(2026, 11, 1, 6, 30), None),  # 11-01 01:30 EST
        ("newyork", "t2", utc(2026, 11, 2, 4, 59), None),  # 11-01 23:59 EST
        ("newyork", "t2", utc(2026, 11, 2, 5, 0), None),  # 11-02 00:00 EST
        # Asia/Tokyo (UTC+9): last_7_days on 2027-01-04 is 2026-12-29 .. 2027-01-04
        ("tokyo", "t1", jst(2026, 12, 29, 0, 0), None),  # first day of the preset (UTC: 12-28 15:00)
        ("tokyo", "t3", jst(2026, 12, 31, 12, 0), None),
        ("tokyo", "t1", jst(2027, 1, 1, 0, 30), 30_000),
        ("tokyo", "t2", jst(2027, 1, 3, 10, 0), None),
        ("tokyo", "t2", jst(2027, 1, 4, 23, 59), 60_000),  # last day of the preset
        ("tokyo", "t1", jst(2027, 1, 5, 0, 0), 1_000),  # after the as-of date: counted nowhere
        # the previous 7 days, 2026-12-22 .. 2026-12-28
        ("tokyo", "t3", jst(2026, 12, 28, 23, 59, 59), None),  # one second before the preset
        ("tokyo", "t3", jst(2026, 12, 25, 12, 0), None),
        ("tokyo", "t2", jst(2026, 12, 24, 12, 0), None),
    ]
    return c
