"""Every setting of the pipeline, read from the environment in one place.

One `LISTORY_HOME` folder holds the DuckDB warehouse, the landing zone, the user
registry, the secrets key and the embedded Dagster home, so Python, dbt and the
CLI always agree on which files they touch. Settings are read when a function
asks for them, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from listory_pipeline.publication.snapshot import Publication

DEFAULT_HOME = ".listory"
SPOTIFY_API_URL = "https://api.spotify.com/v1"
SPOTIFY_ACCOUNTS_URL = "https://accounts.spotify.com"


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot work with; the message names it."""


def _float_env(environ: dict[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _int_env(environ: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool_env(environ: dict[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; see the README's configuration table for each variable."""

    home: Path
    spotify_client_id: str | None = None
    spotify_client_secret: str | None = field(default=None, repr=False)
    spotify_api_url: str = SPOTIFY_API_URL
    spotify_accounts_url: str = SPOTIFY_ACCOUNTS_URL
    simulator_url: str | None = None
    simulator_seed: int = 42
    simulator_users: int = 5
    simulator_bulk_refused: bool = False
    default_timezone: str = "UTC"
    secret_key: str | None = field(default=None, repr=False)
    warehouse_lock_wait_seconds: float = 120.0
    enrichment_max_requests: int = 60
    resolve_max_requests: int = 500
    spotify_timeout_seconds: float = 10.0
    spotify_max_inline_wait_seconds: float = 60.0
    crawl_active_interval_seconds: float = 60.0
    crawl_idle_interval_seconds: float = 600.0
    crawl_active_window_seconds: float = 3600.0
    publish_interval_seconds: float = 15.0
    retention_success_days: float = 14.0
    retention_failure_days: float = 90.0

    @property
    def uses_simulator(self) -> bool:
        """No Spotify credentials means the built-in simulator, so a fresh clone runs end to end."""
        return not (self.spotify_client_id and self.spotify_client_secret)

    @property
    def warehouse_path(self) -> Path:
        """The pipeline's own DuckDB file: only the pipeline opens it (readers would lock it)."""
        return self.home / "pipeline" / "warehouse.duckdb"

    @property
    def published_warehouse_path(self) -> Path:
        """The read copy every DuckDB client opens, republished after the pipeline writes."""
        return self.home / "warehouse.duckdb"

    @property
    def publication(self) -> "Publication":
        from listory_pipeline.publication.snapshot import Publication

        return Publication(self.warehouse_path, self.published_warehouse_path, self.publish_interval_seconds)

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def registry_path(self) -> Path:
        return self.home / "registry.sqlite"

    @property
    def token_cache_path(self) -> Path:
        return self.home / "token-cache.sqlite"

    @property
    def secret_key_path(self) -> Path:
        return self.home / "secret.key"

    @property
    def rate_limit_pauses_path(self) -> Path:
        return self.home / "rate-limit-pauses.json"

    @property
    def imports_dir(self) -> Path:
        """The drop folder: `imports/<user id>/` is imported by `history_drop_sensor`."""
        return self.home / "imports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


PRIVATE_UMASK = 0o077


def keep_private(settings: Settings | None = None) -> None:
    """Files this process creates are its user's alone (0600, folders 0700), whatever the umask.

    LISTORY_HOME holds refresh tokens, the key that decrypts them and every play: no other
    local user may read it or plant pulls in it. The home folder itself is made 0700 (which
    also covers files older versions wrote more openly), and the umask is set for this
    process and everything it starts (Dagster's webserver, daemon, fork servers, run workers).
    """
    os.umask(PRIVATE_UMASK)
    if settings is not None:
        settings.home.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.home, 0o700)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or a given mapping, for tests)."""
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("LISTORY_HOME") or DEFAULT_HOME).expanduser().resolve()
    client_id = env.get("SPOTIFY_CLIENT_ID") or None
    client_secret = env.get("SPOTIFY_CLIENT_SECRET") or None
    if bool(client_id) != bool(client_secret):
        missing = "SPOTIFY_CLIENT_SECRET" if client_id else "SPOTIFY_CLIENT_ID"
        raise ConfigError(
            f"{missing} is not set: set both SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET "
            "to use real Spotify, or neither to use the built-in simulator"
        )
    return Settings(
        home=home,
        spotify_client_id=client_id,
        spotify_client_secret=client_secret,
        spotify_api_url=(env.get("SPOTIFY_API_URL") or SPOTIFY_API_URL).rstrip("/"),
        spotify_accounts_url=(env.get("SPOTIFY_ACCOUNTS_URL") or SPOTIFY_ACCOUNTS_URL).rstrip("/"),
        simulator_url=(env.get("LISTORY_SIMULATOR_URL") or "").rstrip("/") or None,
        simulator_seed=_int_env(env, "LISTORY_SIMULATOR_SEED", 42),
        simulator_users=_int_env(env, "LISTORY_SIMULATOR_USERS", 5, minimum=1),
        simulator_bulk_refused=_bool_env(env, "LISTORY_SIMULATOR_BULK_REFUSED", False),
        default_timezone=env.get("LISTORY_DEFAULT_TIMEZONE") or "UTC",
        secret_key=env.get("LISTORY_SECRET_KEY") or None,
        warehouse_lock_wait_seconds=_float_env(env, "LISTORY_WAREHOUSE_LOCK_WAIT_SECONDS", 120.0),
        enrichment_max_requests=_int_env(env, "LISTORY_ENRICHMENT_MAX_REQUESTS", 60),
        resolve_max_requests=_int_env(env, "LISTORY_RESOLVE_MAX_REQUESTS", 500, minimum=1),
        spotify_timeout_seconds=_float_env(env, "LISTORY_SPOTIFY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        spotify_max_inline_wait_seconds=_float_env(env, "LISTORY_SPOTIFY_MAX_INLINE_WAIT_SECONDS", 60.0),
        crawl_active_interval_seconds=_float_env(env, "LISTORY_CRAWL_ACTIVE_INTERVAL_SECONDS", 60.0, minimum=1.0),
        crawl_idle_interval_seconds=_float_env(env, "LISTORY_CRAWL_IDLE_INTERVAL_SECONDS", 600.0, minimum=1.0),
        crawl_active_window_seconds=_float_env(env, "LISTORY_CRAWL_ACTIVE_WINDOW_SECONDS", 3600.0),
        publish_interval_seconds=_float_env(env, "LISTORY_PUBLISH_INTERVAL_SECONDS", 15.0),
        retention_success_days=_float_env(env, "LISTORY_RETENTION_SUCCESS_DAYS", 14.0, minimum=0.01),
        retention_failure_days=_float_env(env, "LISTORY_RETENTION_FAILURE_DAYS", 90.0, minimum=0.01),
    )
