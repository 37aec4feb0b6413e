"""The read copy: the pipeline owns its DuckDB file and publishes snapshots that readers open.

DuckDB lets one process write a file and refuses everyone else while it does, and a
read-only connection in turn keeps every writer out. So readers never open the
pipeline's file (`LISTORY_HOME/pipeline/warehouse.duckdb`): they open
`LISTORY_HOME/warehouse.duckdb`, a byte copy the pipeline replaces atomically after
its writes (`snapshot.py`); a connection keeps the snapshot it opened until it
reconnects. `readers.py` is the one documented way to connect.
"""
