"""The crawl, Dagster-free: its steps as plain functions (steps.py: land, load, enrich), who is
crawled when (scheduling.py) and the app-wide pauses Spotify's rate limits impose (rate_limits.py).

Kept light on purpose: the command line reads rate-limit pauses without importing DuckDB.
"""
