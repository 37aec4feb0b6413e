"""Which export entries are listens, which are skips, and which are not music at all.

The rule other trackers converged on: a play counts as a listen when at least 30 seconds
were heard (your_spotify), or when it was shorter but ran to its natural end
(`reason_end = trackdone`, ListenBrainz's refinement: a 20-second interlude played through
is a listen). Everything else with a track is kept as a skip, outside the reports.
Incognito plays were made in a private session: they are dropped unless the user asks for
them. Entries without a Spotify track (podcast episodes, audiobook chapters, local files)
are counted and reported, never imported as music listens.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from listory_pipeline.history.formats import CONTENT_MUSIC

DEFAULT_MIN_LISTEN_MS = 30_000

OUTCOME_LISTEN = "listen"
OUTCOME_SKIP = "skip"
OUTCOME_INCOGNITO = "incognito"
KEPT_OUTCOMES = (OUTCOME_LISTEN, OUTCOME_SKIP)


@dataclass(frozen=True)
class ImportRules:
    """What the user chose for this import; part of the import's identity."""

    min_listen_ms: int = DEFAULT_MIN_LISTEN_MS
    include_incognito: bool = False

    def __post_init__(self) -> None:
        if self.min_listen_ms < 0:
            raise ValueError(f"the minimum listen length must not be negative, got {self.min_listen_ms} ms")

    def describe(self) -> str:
        incognito = "incognito plays included" if self.include_incognito else "incognito plays dropped"
        return f"a listen is >= {self.min_listen_ms / 1000:g} s heard or played to its end; {incognito}"


def outcome_expression(rules: ImportRules) -> pl.Expr:
    """listen | skip | incognito for music; the content kind (podcast, audiobook, ...) otherwise."""
    music = pl.col("content") == CONTENT_MUSIC
    heard_enough = (pl.col("ms_played") >= rules.min_listen_ms) | (pl.col("reason_end") == "trackdone").fill_null(False)
    incognito = pl.col("incognito") & pl.lit(not rules.include_incognito)
    return (
        pl.when(~music)
        .then(pl.col("content"))
        .when(incognito)
        .then(pl.lit(OUTCOME_INCOGNITO))
        .when(heard_enough)
        .then(pl.lit(OUTCOME_LISTEN))
        .otherwise(pl.lit(OUTCOME_SKIP))
    )


def classify(frame: pl.DataFrame, rules: ImportRules) -> pl.DataFrame:
    return frame.with_columns(outcome=outcome_expression(rules))
