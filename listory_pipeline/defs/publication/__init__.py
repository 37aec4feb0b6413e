"""Dagster wiring of the read copy: the sensor that publishes what no write session did."""
