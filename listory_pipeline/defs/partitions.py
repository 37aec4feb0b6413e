"""Users are a dynamic partition set keyed by Spotify user id; only sensors and the CLI add keys."""

from dagster import DynamicPartitionsDefinition

spotify_users = DynamicPartitionsDefinition(name="spotify_users")
