"""Reports: the dbt project's build (`build.py`), custom ranges in Polars (`custom_range.py`),
charts without plotting libraries (`charts.py`) and the report commands (`cli_commands.py`).

Nothing here is imported by the crawl code location: dbt, dagster_dbt and Polars stay off
the one-minute crawl runs' import path.
"""
