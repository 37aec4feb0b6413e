-- The core schema of the public contract (see README, "DuckDB contract").
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS meta;

CREATE TABLE core.users (
    user_id VARCHAR PRIMARY KEY,
    display_name VARCHAR,
    timezone VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE core.albums (
    album_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    album_type VARCHAR,
    release_date VARCHAR,
    release_date_precision VARCHAR,
    total_tracks INTEGER,
    image_url VARCHAR,
    uri VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE core.artists (
    artist_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    uri VARCHAR,
    popularity INTEGER,
    followers BIGINT,
    image_url VARCHAR,
    -- 'found' (genres known, maybe none), 'unavailable' (Spotify gave no genres field)
    genres_status VARCHAR,
    genres_checked_at TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE core.tracks (
    track_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    duration_ms INTEGER NOT NULL,
    album_id VARCHAR,
    disc_number INTEGER,
    track_number INTEGER,
    explicit BOOLEAN,
    popularity INTEGER,
    isrc VARCHAR,
    uri VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE core.track_artists (
    track_id VARCHAR NOT NULL,
    artist_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (track_id, artist_id)
);

CREATE TABLE core.album_artists (
    album_id VARCHAR NOT NULL,
    artist_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (album_id, artist_id)
);

CREATE TABLE core.artist_genres (
    artist_id VARCHAR NOT NULL,
    genre VARCHAR NOT NULL,
    PRIMARY KEY (artist_id, genre)
);

CREATE VIEW core.genres AS
SELECT genre, count(*) AS artist_count
FROM core.artist_genres
GROUP BY genre;

CREATE TABLE core.listens (
    user_id VARCHAR NOT NULL,
    played_at TIMESTAMPTZ NOT NULL,
    track_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL CHECK (source IN ('recently_played', 'extended_history')),
    ms_played BIGINT,
    context_uri VARCHAR,
    pull_id VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, track_id, played_at)
);

CREATE TABLE meta.loaded_pulls (
    pull_id VARCHAR PRIMARY KEY,
    user_id VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    play_count INTEGER NOT NULL,
    -- 'loaded' or 'rejected' (malformed; `error` says why, the file stays in the landing zone)
    outcome VARCHAR NOT NULL,
    error VARCHAR
);

-- Per user, the first UTC fetch day that may still hold an unloaded pull.
CREATE TABLE meta.landing_watermarks (
    user_id VARCHAR PRIMARY KEY,
    first_open_day DATE NOT NULL
);

-- Per Spotify app: whether artist genres come back at all (2026 development mode may omit them).
CREATE TABLE meta.enrichment_state (
    app_key VARCHAR PRIMARY KEY,
    genres_unavailable_until TIMESTAMPTZ,
    -- catalog kinds whose several-ids endpoint this app was refused, and when that was last seen
    bulk_refused_kinds VARCHAR[] NOT NULL DEFAULT [],
    bulk_checked_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);
