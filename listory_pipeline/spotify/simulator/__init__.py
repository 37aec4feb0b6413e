"""A simulated Spotify Web API for tests, demos and benchmarks without Spotify.

`Simulator` holds the deterministic world (catalog, listeners, clock, faults);
`SimulatorServer` serves it over real HTTP on 127.0.0.1, with `/_sim/...`
controls so a simulator in another process can be steered too.

Choices where Spotify leaves room, so clients know what to expect:
- bad client credentials answer 400 `invalid_client` (never 401);
- a client-credentials token on `/v1/me...` answers 403 (a refresh cannot help);
- revoking a user also invalidates that user's live access tokens (401);
- `/_sim/...` requests are not counted in `stats()`; unknown `/v1` paths count as `unknown`;
- `SimulatorConfig.extra_apps` registers further apps (users' own); tokens are bound to the
  app that obtained them, and `token_requests_by_client()` (`/_sim/stats/token-clients`)
  tells which app each token request named.
"""

from listory_pipeline.spotify.simulator.config import FaultConfig, SimulatorConfig
from listory_pipeline.spotify.simulator.listeners import SimUser
from listory_pipeline.spotify.simulator.server import SimulatorServer, run_forever
from listory_pipeline.spotify.simulator.simulator import Simulator

__all__ = ["FaultConfig", "SimUser", "Simulator", "SimulatorConfig", "SimulatorServer", "run_forever"]
