"""Settings of a simulated Spotify: the world it builds and the ways it misbehaves.

`SimulatorConfig` fixes the world (same config, same users, catalog, plays and
token keys in every process). `FaultConfig` is the mutable part: tests and the
`/_sim/faults` endpoint flip its fields while a server is running.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultConfig:
    """Misbehaviour switches; all off by default so the simulator starts out polite.

    Count-based knobs (`*_next`) decrement as they fire, so a test can ask for
    "exactly the next two requests fail" and then observe recovery.
    """

    bulk_refused: bool = False
    genres_missing: bool = False
    rate_limit_next: int = 0
    retry_after_seconds: int = 1
    quota_exceeded: bool = False
    server_error_next: int = 0
    server_error_rate: float = 0.0
    slow_seconds: float = 0.0
    slow_next: int = 0
    late_fraction: float = 0.0
    max_late_seconds: int = 0
    out_of_order: bool = False
    rotate_refresh_tokens: bool = False
    faults_apply_to_accounts: bool = False

    def update(self, **changes: Any) -> None:
        """Apply changes by field name, refusing unknown names so typos fail loudly."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        for name, value in changes.items():
            current = getattr(self, name)
            # JSON gives ints for floats and vice versa; keep each field's type.
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulated world is made of; frozen because tokens and plays derive from it."""

    seed: int = 42
    n_users: int = 5
    client_id: str = "listory-simulator"
    client_secret: str = "simulator-secret"
    n_artists: int = 3000
    n_albums: int = 6000
    n_tracks: int = 40000
    faults: FaultConfig = field(default_factory=FaultConfig, compare=False, hash=False)
    """Faults active when a Simulator starts (copied, so the config stays reusable)."""
    extra_apps: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Further registered apps as (client_id, client_secret), for users who bring their own app.

    Tokens stay bound to the app that obtained them, as on Spotify. The signing key
    derives from the default app's secret only, so adding apps changes no token of
    the default app.
    """

    def __post_init__(self) -> None:
        client_ids = [self.client_id, *(client_id for client_id, _ in self.extra_apps)]
        if any(not client_id for client_id in client_ids):
            raise ValueError("every simulated app needs a client id")
        if len(set(client_ids)) != len(client_ids):
            raise ValueError("simulated apps need distinct client ids")

    def app_secrets(self) -> dict[str, str]:
        """Every registered app's secret by client id, the default app first."""
        return {self.client_id: self.client_secret, **dict(self.extra_apps)}
