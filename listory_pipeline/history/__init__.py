"""Importing a user's past from Spotify's privacy export (Extended Streaming History, Account data).

Dagster-free: `archive` finds the export's files safely (zips included), `formats` turns them
into entries, `classify` decides listen / skip / dropped, `landing` stores the parsed entries,
`loader` merges them into `core.*` deduplicated against crawled plays, `resolve` completes the
catalog of imported tracks.
"""
