-- Imports of Spotify's Extended Streaming History and Account data export (README, "History import").

-- Imported tracks are known by id and name before Spotify is asked for the rest: their
-- duration arrives with resolution (listens carry ms_played meanwhile).
ALTER TABLE core.tracks ALTER COLUMN duration_ms DROP NOT NULL;
-- 'complete': the full track (from a pull or resolved); 'pending': known from an import by id
-- and names, waiting for resolution; 'by_name': known only by names (Account data, no URI);
-- 'not_found': Spotify does not know the id (the names stay).
ALTER TABLE core.tracks ADD COLUMN catalog_status VARCHAR DEFAULT 'complete';
ALTER TABLE core.tracks ADD COLUMN resolve_attempted_at TIMESTAMPTZ;

-- Albums and artists named by an import before their ids are known: reports show them by name
-- until resolution links the track to the real ones.
ALTER TABLE core.albums ADD COLUMN is_placeholder BOOLEAN DEFAULT false;
ALTER TABLE core.artists ADD COLUMN is_placeholder BOOLEAN DEFAULT false;

-- The artist an import names for a track, until the track has real credits in core.track_artists.
CREATE TABLE core.provisional_credits (
    track_id VARCHAR PRIMARY KEY,
    artist_id VARCHAR NOT NULL,
    artist_name VARCHAR
);

-- What the export says of a play and the crawl does not.
ALTER TABLE core.listens ADD COLUMN reason_start VARCHAR;
ALTER TABLE core.listens ADD COLUMN reason_end VARCHAR;
ALTER TABLE core.listens ADD COLUMN shuffle BOOLEAN;
ALTER TABLE core.listens ADD COLUMN offline BOOLEAN;
-- 'millisecond' (recently-played), 'second' (Extended Streaming History), 'minute' (Account data)
ALTER TABLE core.listens ADD COLUMN played_at_precision VARCHAR;

-- Plays of a track the export counts as skips (shorter than the listen rule): kept, never reported.
CREATE TABLE core.skipped_plays (
    user_id VARCHAR NOT NULL,
    played_at TIMESTAMPTZ NOT NULL,
    track_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    ms_played BIGINT,
    reason_start VARCHAR,
    reason_end VARCHAR,
    shuffle BOOLEAN,
    offline BOOLEAN,
    played_at_precision VARCHAR,
    pull_id VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, track_id, played_at)
);

-- One row per landed import: what it added and what it matched.
CREATE TABLE meta.history_imports (
    import_id VARCHAR PRIMARY KEY,
    user_id VARCHAR NOT NULL,
    landed_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    -- 'loaded' or 'rejected' (the landed files could not be read; `error` says why)
    outcome VARCHAR NOT NULL,
    error VARCHAR,
    entries_landed INTEGER,
    listens_new INTEGER,
    listens_matched INTEGER,
    listens_replaced INTEGER,
    skips_new INTEGER,
    tracks_new INTEGER,
    covered_from TIMESTAMPTZ,
    covered_to TIMESTAMPTZ,
    counts JSON
);

-- Stretches where plays may be missing: a full pull entirely newer than the stored listens.
CREATE TABLE meta.listen_gaps (
    user_id VARCHAR NOT NULL,
    gap_from TIMESTAMPTZ NOT NULL,
    gap_to TIMESTAMPTZ NOT NULL,
    detected_at TIMESTAMPTZ NOT NULL,
    pull_id VARCHAR,
    filled_by_import VARCHAR,
    filled_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, gap_from)
);
