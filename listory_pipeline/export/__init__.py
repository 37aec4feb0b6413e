"""A user's listens out of the warehouse: Parquet, CSV, JSON, or Spotify's own export shape.

`tabular` writes listens with their catalog names and ids through DuckDB's COPY, a month at a
time so long exports show progress; `spotify_format` writes the Extended Streaming History
layout, so a history kept here can move to any tracker that imports Spotify's export (this
one included).
"""
