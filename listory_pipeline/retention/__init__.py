"""Dagster's history kept bounded: which runs may go (policy.py), deleting them (purge.py), reclaiming SQLite space (sqlite_space.py)."""
