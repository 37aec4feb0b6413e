"""Every resource of the code location, bound in one place.

Resources resolve `Settings` (from the environment, `LISTORY_HOME` first) when a
run uses them, not when the code location is imported. Secrets never become
resource config: the Spotify client secret is read from `SPOTIFY_CLIENT_SECRET`
at run time and refresh tokens come from the encrypted registry, so neither
shows in run config or the UI.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from dagster import ConfigurableResource
from pydantic import Field

from listory_pipeline import runtime
from listory_pipeline.landing.history import HistoryLanding
from listory_pipeline.landing.store import LandingZone
from listory_pipeline.settings import Settings, load_settings
from listory_pipeline.spotify.client import SpotifyClient, UserSession
from listory_pipeline.users.registry import RegisteredUser, UserRegistry


class _SettingsResource(ConfigurableResource):
    listory_home: str | None = Field(
        default=None, description="Overrides LISTORY_HOME for this resource (tests, second deployments)."
    )

    def settings(self) -> Settings:
        environ = dict(os.environ)
        if self.listory_home:
            environ["LISTORY_HOME"] = self.listory_home
        return load_settings(environ)


class SpotifyResource(_SettingsResource):
    """The Spotify Web API, or the built-in simulator when no credentials are set."""

    @contextmanager
    def user_session(
        self, user: RegisteredUser, registry: UserRegistry
    ) -> Iterator[tuple[SpotifyClient, UserSession, str]]:
        """The user's client, session and app key (`runtime.user_spotify_session`)."""
        with runtime.user_spotify_session(self.settings(), user, registry) as opened:
            yield opened

    def enrichment_budget(self) -> int:
        return self.settings().enrichment_max_requests

    def resolve_budget(self) -> int:
        return self.settings().resolve_max_requests


class LandingResource(_SettingsResource):
    """The append-only landing zone of raw pulls and landed history imports."""

    def zone(self) -> LandingZone:
        return runtime.landing_zone(self.settings())

    def history(self) -> HistoryLanding:
        return runtime.history_landing(self.settings())


class WarehouseResource(_SettingsResource):
    """The pipeline's DuckDB file; writers wait for its lock within `LISTORY_WAREHOUSE_LOCK_WAIT_SECONDS`."""

    def path(self):
        return self.settings().warehouse_path

    def lock_wait_seconds(self) -> float:
        return self.settings().warehouse_lock_wait_seconds

    def publication(self):
        """Where write sessions publish the read copy (`LISTORY_HOME/warehouse.duckdb`)."""
        return self.settings().publication


class RegistryResource(_SettingsResource):
    """The user registry (SQLite, refresh tokens encrypted)."""

    def registry(self) -> UserRegistry:
        return runtime.user_registry(self.settings())


def build_resources() -> dict[str, ConfigurableResource]:
    return {
        "spotify": SpotifyResource(),
        "landing": LandingResource(),
        "warehouse": WarehouseResource(),
        "registry": RegistryResource(),
    }
