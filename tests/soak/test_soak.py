"""Soak test: a simulated day of adaptive crawling of 20 users against a misbehaving Spotify.

One simulator (seed 42, 20 listeners) answers over HTTP on 127.0.0.1 with its clock
fixed and moved one minute a tick for 24 simulated hours. Each tick does what
`adaptive_crawl_sensor` does (``scheduling.due_users`` over the registry, the cursor
and the rate-limit pauses, at the simulated now) and then what each crawl run does
(land the last 50 plays, load, learn the outcome into the cursor the way the sensor
learns it from the event log: a landed pull is a success with its newest play, a
failed run is a failure).

Faults on meanwhile: random 5xx, short 429 bursts, one ``QUOTA_EXCEEDED`` 429 with a
two-hour Retry-After (the app pauses and resumes by itself), slow answers beyond the
client timeout, late (up to 3 h) and out-of-order plays, one revocation, the DuckDB
file held by another process for twenty minutes, and one run killed between landing
and loading.

At the end ``core.listens`` must equal the simulator's ground truth exactly for every
user who was never revoked, and the test prints the request cost per user per
simulated day next to a fixed 1-minute poll (1,440 a day).

Loads: a real run loads right after it lands. Loading costs ~30-60 ms of DuckDB work
a time on the 2-core CI machine and a simulated day has ~7,000 crawls, so here the
pulls landed by ordinary crawls are loaded in batches every `LOAD_EVERY_TICKS`
simulated minutes, each batch on one warehouse connection (``load_user_pulls``, the
function every load runs). That changes nothing that is checked: the crawl schedule
depends on the landed pulls only, and "every landed pull is loaded by the next load"
is exactly the pipeline's guarantee. The events that are about loading go through the
real ``crawl.load_landed`` at once: every crawl during the locked stretch, and the
crawl after the killed run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.crawl import scheduling
from listory_pipeline.crawl.rate_limits import PauseStore
from listory_pipeline.settings import load_settings
from listory_pipeline.spotify.auth import InMemoryTokenCache, SpotifyApp
from listory_pipeline.spotify.client import SpotifyClient
from listory_pipeline.spotify.errors import AuthRevokedError, RateLimitedError, SpotifyUnavailableError
from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer
from listory_pipeline.warehouse.checks import run_listen_checks
from listory_pipeline.warehouse.connection import WarehouseLockedError, open_warehouse
from listory_pipeline.warehouse.loader import LoadResult, UserRow, load_user_pulls

SEED = 42
N_USERS = 20
START = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
TICK_SECONDS = 60
SIM_DAYS = 1.0
TICKS = int(SIM_DAYS * 86_400 / TICK_SECONDS)  # the last tick is at START + 24 h
FIXED_POLL_PER_USER_PER_DAY = 1440

# Client: short timeouts, tiny backoff; sleeps are recorded, never slept (time is simulated).
CLIENT_TIMEOUT_SECONDS = 0.4
SLOW_ANSWER_SECONDS = 0.6  # > the client timeout: the attempt times out and is retried

LOAD_EVERY_TICKS = 60
LOCK_WAIT_SECONDS = 0.02  # the loads that meet the held warehouse give up quickly
NORMAL_LOCK_WAIT_SECONDS = 10.0

# Events, by tick (= simulated minute after START).
SHORT_429_BURSTS = (95, 333, 707, 1111)  # two 429s with Retry-After 1 s: waited through inline
SLOW_ANSWERS = (210, 820)  # two answers slower than the client timeout
OUTAGE = 400  # four 5xx in a row: one crawl fails with SpotifyUnavailableError
ENRICH_AT = (360, 1080, 1380)
LOCK_FROM, LOCK_UNTIL = 480, 500  # another process holds the DuckDB file read-write
KILL_AT = 600  # the first crawl due from here on lands and is "killed" before loading
REVOKED_USER = "sim-kenji"
REVOKE_AT = 720
QUOTA_AT = 900  # 429 QUOTA_EXCEEDED, Retry-After 2 simulated hours
QUOTA_PAUSE_SECONDS = 2 * 3600

HOLD_WAREHOUSE = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
conn.close()
"""


def to_ms(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def parse_played_at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Soak:
    """One LISTORY_HOME, one simulator, the sensor's cursor and what the runs did."""

    def __init__(self, server: SimulatorServer, home: Path) -> None:
        self.server = server
        self.sim: Simulator = server.simulator
        self.settings = load_settings({"LISTORY_HOME": str(home), "LISTORY_SIMULATOR_URL": server.base_url})
        self.registry = runtime.user_registry(self.settings)
        self.landing = runtime.landing_zone(self.settings)
        self.warehouse_path = self.settings.warehouse_path
        self.pauses = PauseStore(self.settings.rate_limit_pauses_path)
        self.app_key = runtime.default_app_key(self.settings)  # what the sensor and the asset both use
        config = self.sim.config
        self.app = SpotifyApp(
            client_id=config.client_id,
            client_secret=config.client_secret,
            api_url=server.api_url,
            accounts_url=server.accounts_url,
        )
        self.sleeps: list[float] = []
        self.wall: Counter[str] = Counter()
        self.client = SpotifyClient(
            self.app,
            timeout=CLIENT_TIMEOUT_SECONDS,
            max_attempts=4,
            backoff_base_seconds=0.01,
            backoff_max_seconds=0.05,
            max_inline_wait_seconds=60.0,
            token_cache=InMemoryTokenCache(),  # one long-lived client: its cache keeps the tokens
            sleep=self.sleeps.append,
            now=self.sim.clock.now,
        )
        self.policy = scheduling.CrawlPolicy(
            active_interval_seconds=self.settings.crawl_active_interval_seconds,
            idle_interval_seconds=self.settings.crawl_idle_interval_seconds,
            active_window_seconds=self.settings.crawl_active_window_seconds,
        )
        self.cursor = scheduling.SchedulerCursor()
        self.sessions = {}
        self.users_by_id = {}
        # What happened.
        self.launched: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.first_oldest_ms: dict[str, int] = {}
        self.last_landed_at: dict[str, datetime] = {}
        self.landed_pulls: dict[str, list[str]] = defaultdict(list)
        self.unloaded: set[str] = set()
        self.loads: list[LoadResult] = []
        self.killed: dict[str, str] = {}
        self.kill_record: tuple[str, str] | None = None
        self.kill_followup: LoadResult | None = None
        self.revoked_detected_at: int | None = None
        self.launched_after_revocation = 0
        self.holder: subprocess.Popen | None = None
        self.quota_armed = False
        self.quota_fired_tick: int | None = None
        self.paused_ticks = 0
        self.pause_reason: str | None = None
        self.requests_while_paused = 0
        self.first_tick_after_pause_with_landing: int | None = None
        self.pause_end_tick: int | None = None
        self.tick = 0

    # -- set-up ---------------------------------------------------------------------------

    def register_everyone(self) -> None:
        for sim_user in self.sim.users():
            self.registry.register(
                sim_user.user_id,
                self.sim.refresh_token_for(sim_user.user_id),
                display_name=sim_user.display_name,
                timezone_name=sim_user.timezone,
            )
            self.sessions[sim_user.user_id] = self.client.user_session(
                sim_user.user_id,
                self.registry.refresh_token(sim_user.user_id),
                on_new_refresh_token=self.registry.save_refresh_token,
            )

    def user_row(self, user_id: str) -> UserRow:
        user = self.users_by_id.get(user_id) or self.registry.get(user_id)
        return UserRow(user.user_id, user.display_name, user.timezone, user.status)

    # -- one crawl run ----------------------------------------------------------------------

    def crawl(self, user_id: str) -> bool:
        """One run of crawl_user_job for this user, as launched by the sensor; True if it landed."""
        now = self.sim.clock.now()
        scheduling.record_requested(self.cursor, user_id, now.timestamp())
        self.launched[user_id] += 1
        if self.revoked_detected_at is not None and user_id == REVOKED_USER:
            self.launched_after_revocation += 1
        if self.pauses.pause_for(self.app_key, now) is not None:
            # The asset refuses to start while the app is paused (no request is spent).
            self.failures["app paused: run refused, no request"] += 1
            scheduling.record_failure(self.cursor, user_id)
            return False
        started = time.perf_counter()
        try:
            landed = crawl.land_recent_plays(self.sessions[user_id], self.landing, user_id)
        except AuthRevokedError:
            self.registry.set_status(user_id, "revoked", reason="Spotify answered invalid_grant on refresh")
            self.failures["revoked (invalid_grant)"] += 1
            self.revoked_detected_at = self.tick
            scheduling.record_failure(self.cursor, user_id)
            return False
        except RateLimitedError as exc:
            self.pauses.record(self.app_key, exc.retry_at, exc.reason or "rate limited")
            self.failures[f"rate limited ({exc.reason or '429'})"] += 1
            scheduling.record_failure(self.cursor, user_id)
            return False
        except SpotifyUnavailableError:
            self.failures["Spotify unavailable (5xx/timeouts)"] += 1
            scheduling.record_failure(self.cursor, user_id)
            return False
        finally:
            self.wall["land (HTTP + landing zone)"] += time.perf_counter() - started
        # The landing materialisation: the sensor learns a success and the pull's newest play.
        newest = parse_played_at(landed.newest_played_at).timestamp() if landed.newest_played_at else None
        scheduling.record_success(self.cursor, user_id, at=now.timestamp(), newest_play=newest)
        if user_id not in self.first_oldest_ms:
            items = self.landing.read(landed.pull)["payload"]["items"]
            self.first_oldest_ms[user_id] = min(to_ms(parse_played_at(item["played_at"])) for item in items)
        self.last_landed_at[user_id] = now
        self.landed_pulls[user_id].append(landed.pull.pull_id)

        if self.holder is not None:
            # The run's load step meets the warehouse held by another process.
            started = time.perf_counter()
            try:
                result, _ = crawl.load_landed(
                    self.warehouse_path, self.landing, self.user_row(user_id), lock_wait_seconds=LOCK_WAIT_SECONDS
                )
            except WarehouseLockedError:
                self.failures["warehouse locked (pull stays landed)"] += 1
                scheduling.record_failure(self.cursor, user_id)  # the run failed after landing
                self.unloaded.add(user_id)
            else:
                self.record_load(result)
            self.wall["loads meeting the held warehouse"] += time.perf_counter() - started
        elif self.kill_record is None and self.tick >= KILL_AT and user_id != REVOKED_USER:
            # Killed between landing and loading: nothing more happens in this run.
            self.killed[user_id] = landed.pull.pull_id
            self.kill_record = (user_id, landed.pull.pull_id)
            self.failures["run killed after landing"] += 1
        elif user_id in self.killed:
            # The next run of the killed user loads at once, as a run does.
            result, checks = crawl.load_landed(
                self.warehouse_path, self.landing, self.user_row(user_id), lock_wait_seconds=NORMAL_LOCK_WAIT_SECONDS
            )
            assert all(check.passed for check in checks), checks
            self.record_load(result)
            self.kill_followup = result
            del self.killed[user_id]
            self.unloaded.discard(user_id)
        else:
            self.unloaded.add(user_id)
        return True

    def record_load(self, result: LoadResult) -> None:
        assert result.pulls_rejected == [], result.pulls_rejected
        self.loads.append(result)

    def batch_load(self) -> None:
        """Load every user with landed, unloaded pulls on one warehouse connection."""
        users = sorted(u for u in self.unloaded if u not in self.killed)
        if not users:
            return
        wait = LOCK_WAIT_SECONDS if self.holder is not None else NORMAL_LOCK_WAIT_SECONDS
        started = time.perf_counter()
        try:
            with open_warehouse(self.warehouse_path, wait_seconds=wait) as warehouse:
                for user_id in users:
                    self.record_load(
                        load_user_pulls(warehouse, self.landing, self.user_row(user_id), now=self.sim.clock.now())
                    )
                    self.unloaded.discard(user_id)
        except WarehouseLockedError:
            assert self.holder is not None, "the warehouse was locked while nobody held it"
            self.failures["warehouse locked (batch load, pulls stay landed)"] += 1
        finally:
            self.wall["batch loads"] += time.perf_counter() - started

    def enrich(self) -> None:
        user_id = next(u.user_id for u in self.registry.list() if u.status == "active")
        try:
            crawl.enrich_artists(
                self.warehouse_path,
                self.client,
                self.sessions[user_id],
                self.app_key,
                max_requests=60,
                lock_wait_seconds=NORMAL_LOCK_WAIT_SECONDS,
            )
        except SpotifyUnavailableError:
            self.failures["enrichment: Spotify unavailable"] += 1

    # -- the simulated day -----------------------------------------------------------------

    def events(self, tick: int) -> None:
        sim = self.sim
        if tick in SHORT_429_BURSTS:
            sim.set_faults(rate_limit_next=2, retry_after_seconds=1)
        if tick in SLOW_ANSWERS:
            sim.set_faults(slow_seconds=SLOW_ANSWER_SECONDS, slow_next=2)
        if tick == OUTAGE:
            sim.set_faults(server_error_next=4)
        if tick == LOCK_FROM:
            self.holder = subprocess.Popen(
                [sys.executable, "-c", HOLD_WAREHOUSE, str(self.warehouse_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.holder.stdout.readline().strip() == "holding"
        if tick == LOCK_UNTIL:
            self.release_holder()
        if tick == REVOKE_AT:
            sim.revoke(REVOKED_USER)
        if tick == QUOTA_AT:
            # On a Web API answer (the accounts service's 429 body carries no reason).
            sim.set_faults(
                rate_limit_next=1,
                quota_exceeded=True,
                retry_after_seconds=QUOTA_PAUSE_SECONDS,
                faults_apply_to_accounts=False,
            )
            self.quota_armed = True

    def after_tick(self, tick: int) -> None:
        if self.quota_armed and self.sim.faults.rate_limit_next == 0:
            self.sim.set_faults(quota_exceeded=False, retry_after_seconds=1, faults_apply_to_accounts=True)
            self.quota_armed = False
            self.quota_fired_tick = tick

    def release_holder(self) -> None:
        if self.holder is not None:
            self.holder.stdin.close()
            self.holder.wait(timeout=10)
            assert self.holder.returncode == 0
            self.holder = None

    def run_tick(self, tick: int) -> None:
        self.tick = tick
        now = self.sim.clock.now()
        self.events(tick)
        users = self.registry.list()
        self.users_by_id = {user.user_id: user for user in users}
        pauses = self.pauses.active(now)
        for pause in pauses.values():
            self.pause_reason = pause.reason
        due = scheduling.due_users(
            users,
            self.cursor,
            now.timestamp(),
            policy=self.policy,
            partitions=set(self.users_by_id),
            in_flight=set(),
            paused_apps={key: pause.until.timestamp() for key, pause in pauses.items()},
            app_of_user={user_id: self.app_key for user_id in self.users_by_id},
        )
        before = self.sim.stats()["total"]
        landed = [self.crawl(user_id) for user_id in due]
        if pauses:
            self.paused_ticks += 1
            self.requests_while_paused += self.sim.stats()["total"] - before
            self.pause_end_tick = tick + 1
        elif self.pause_end_tick is not None and self.first_tick_after_pause_with_landing is None and any(landed):
            self.first_tick_after_pause_with_landing = tick
        if tick % LOAD_EVERY_TICKS == 0:
            self.batch_load()
        if tick in ENRICH_AT:
            self.enrich()
        self.after_tick(tick)

    def final_catch_up(self) -> None:
        """One last crawl of every active user at the end, then load everything landed."""
        self.tick = TICKS + 1
        failures_before = sum(self.failures.values())
        for user in self.registry.list():
            if user.status == "active":
                assert self.crawl(user.user_id), f"the final crawl of {user.user_id} failed"
        assert sum(self.failures.values()) == failures_before
        for user_id in list(self.killed):  # a killed run whose user was never crawled again
            result, _ = crawl.load_landed(
                self.warehouse_path, self.landing, self.user_row(user_id), lock_wait_seconds=NORMAL_LOCK_WAIT_SECONDS
            )
            self.record_load(result)
            self.kill_followup = result
            del self.killed[user_id]
            self.unloaded.discard(user_id)
        self.batch_load()
        assert not self.unloaded

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse_path), read_only=True) as conn:
            return conn.execute(sql, params).fetchall() if params is not None else conn.execute(sql).fetchall()


@pytest.fixture
def soak(tmp_path):
    simulator = Simulator(SimulatorConfig(seed=SEED, n_users=N_USERS))
    simulator.clock.set(START)
    # Faults on for the whole day. The late-play settings stay fixed: ground_truth uses them too.
    simulator.set_faults(
        server_error_rate=0.03,
        late_fraction=0.2,
        max_late_seconds=3 * 3600,
        out_of_order=True,
        faults_apply_to_accounts=True,
    )
    with SimulatorServer(simulator, host="127.0.0.1", port=0) as server:
        run = Soak(server, tmp_path / "home")
        try:
            yield run
        finally:
            run.client.close()
            if run.holder is not None and run.holder.poll() is None:
                run.holder.kill()
                run.holder.wait(timeout=10)


def test_a_simulated_day_of_adaptive_crawling_under_faults_stores_exactly_the_plays_that_happened(soak):
    sim = soak.sim
    wall_started = time.monotonic()
    soak.register_everyone()
    user_ids = [user.user_id for user in sim.users()]
    assert len(user_ids) == N_USERS

    for tick in range(TICKS + 1):
        if tick:
            sim.clock.advance(TICK_SECONDS)
        soak.run_tick(tick)
    end = sim.clock.now()
    assert end - START == timedelta(seconds=TICKS * TICK_SECONDS) >= timedelta(hours=24)
    day_stats = sim.stats()
    day_launched = Counter(soak.launched)
    client_outcomes = soak.client.counter.by_outcome()

    sim.set_faults(server_error_rate=0.0)  # the catch-up crawl must not fail by chance
    soak.final_catch_up()
    wall_crawl = time.monotonic() - wall_started

    # -- the figures --------------------------------------------------------------------------
    days = TICKS * TICK_SECONDS / 86_400
    per_user_day = day_stats["total"] / N_USERS / days
    crawls = sum(day_launched.values())
    by_endpoint = {k: round(v / N_USERS / days, 1) for k, v in sorted(day_stats["by_endpoint"].items())}
    lines = [
        "",
        (
            f"soak: {N_USERS} users, {days:.2f} simulated days, {TICKS + 1} sensor ticks of {TICK_SECONDS} s, "
            f"wall {wall_crawl:.1f} s"
        ),
        (
            f"  Spotify requests per user per simulated day: {per_user_day:.1f} (fixed 1-minute poll: "
            f"{FIXED_POLL_PER_USER_PER_DAY}, i.e. {per_user_day / FIXED_POLL_PER_USER_PER_DAY:.0%})"
        ),
        f"    by endpoint, per user per day: {by_endpoint}",
        f"    by status (all users, the day): {dict(sorted(day_stats['by_status'].items()))}",
        (
            f"  crawl runs per user per day: {crawls / N_USERS / days:.1f} "
            f"(min {min(day_launched[u] for u in user_ids)}, max {max(day_launched[u] for u in user_ids)})"
        ),
        (
            f"  client attempts by outcome: {dict(sorted(client_outcomes.items()))}; "
            f"inline waits (not slept): {len(soak.sleeps)}"
        ),
        f"  failed runs by cause: {dict(soak.failures.most_common())}",
        (
            f"  quota pause ({soak.pause_reason}): {soak.paused_ticks} ticks paused, "
            f"{soak.requests_while_paused} requests while paused; loads: {len(soak.loads)}"
        ),
        f"  wall seconds by step: { {k: round(v, 1) for k, v in soak.wall.most_common()} }",
    ]
    print("\n".join(lines))

    # -- core.listens against the ground truth ------------------------------------------------
    total, distinct = soak.query(
        "select count(*), count(distinct (user_id, track_id, played_at)) from core.listens"
    )[0]
    assert total == distinct, f"{total - distinct} plays are stored twice"
    assert sum(r.new_listens for r in soak.loads) == total
    with open_warehouse(soak.warehouse_path, wait_seconds=NORMAL_LOCK_WAIT_SECONDS) as warehouse:
        failed_checks = [
            (user_id, check.name, check.offending_rows)
            for user_id in user_ids
            for check in run_listen_checks(warehouse, user_id, now=end)
            if not check.passed
        ]
    assert failed_checks == []

    stored: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user_id, played_ms, track_id in soak.query(
        "select user_id, epoch_ms(played_at), track_id from core.listens order by all"
    ):
        stored[user_id].append((played_ms, track_id))

    problems = {}
    late_plays = 0
    new_plays = 0
    for user_id in user_ids:
        start_ms = soak.first_oldest_ms[user_id] - 1
        start = from_ms(start_ms)
        window = sorted(row for row in stored[user_id] if row[0] > start_ms)
        older = {row for row in stored[user_id] if row[0] <= start_ms}
        wider = {(to_ms(p), t) for p, t in sim.ground_truth(user_id, start - timedelta(days=3), end)}
        if not older <= wider:
            problems[user_id] = {"stored older plays that never happened": sorted(older - wider)[:5]}
            continue
        if user_id == REVOKED_USER:
            # Crawled until the revocation: everything seen by then, nothing invented.
            seen = {(to_ms(p), t) for p, t in sim.ground_truth(user_id, start, soak.last_landed_at[user_id])}
            if not (seen <= set(window) <= wider):
                problems[user_id] = {
                    "missing (seen before revocation)": sorted(seen - set(window))[:5],
                    "invented": sorted(set(window) - wider)[:5],
                }
            continue
        truth_plays = sim.ground_truth(user_id, start, end)
        truth = sorted((to_ms(p), t) for p, t in truth_plays)
        for played_at, _ in truth_plays:
            if played_at > START:
                new_plays += 1
                if sim.visible_at(user_id, played_at) - played_at > timedelta(minutes=10):
                    late_plays += 1
        if window != truth:
            missing = sorted(set(truth) - set(window))
            problems[user_id] = {
                "missing": [
                    (from_ms(ms).isoformat(), track, f"visible from {sim.visible_at(user_id, from_ms(ms))}")
                    for ms, track in missing[:5]
                ],
                "missing_count": len(missing),
                "extra": [(from_ms(ms).isoformat(), track) for ms, track in sorted(set(window) - set(truth))[:5]],
                "duplicates": len(window) - len(set(window)),
            }
    print(
        f"  plays made during the day: {new_plays} ({late_plays} surfaced > 10 min late); "
        f"listens stored: {total}"
    )
    assert problems == {}, f"core.listens differs from the simulator's ground truth: {problems}"
    assert new_plays > 300 and late_plays > 30, "the day had too few (late) plays to prove anything"
    shuffled = 0
    landed = {pull.pull_id: pull for pull in soak.landing.pulls("sim-dmitri")}
    for pull_id in soak.landed_pulls["sim-dmitri"][:200]:
        played = [item["played_at"] for item in soak.landing.read(landed[pull_id])["payload"]["items"]]
        shuffled += played != sorted(played, reverse=True)
    assert shuffled > 0, "no answer came out of order"

    # -- the faults really happened -------------------------------------------------------------
    statuses = day_stats["by_status"]
    assert statuses.get("429", 0) >= 2 * len(SHORT_429_BURSTS) + 1
    assert sum(statuses.get(s, 0) for s in ("500", "502", "503")) >= 4
    assert client_outcomes.get("timeout", 0) >= 2 * len(SLOW_ANSWERS)
    assert any(abs(s - 1.0) < 0.01 for s in soak.sleeps), "no short 429 was waited through inline"
    assert soak.failures["Spotify unavailable (5xx/timeouts)"] >= 1
    assert soak.failures["warehouse locked (pull stays landed)"] >= 1
    assert soak.failures["run killed after landing"] == 1

    # The quota 429 paused the whole app for two simulated hours, without a request, then it resumed.
    assert soak.quota_fired_tick is not None
    quota_failures = {k: v for k, v in soak.failures.items() if k.startswith("rate limited")}
    assert quota_failures == {"rate limited (QUOTA_EXCEEDED)": 1}, quota_failures
    assert soak.pause_reason == "QUOTA_EXCEEDED"
    assert QUOTA_PAUSE_SECONDS / TICK_SECONDS - 2 <= soak.paused_ticks <= QUOTA_PAUSE_SECONDS / TICK_SECONDS + 1
    assert soak.requests_while_paused == 0
    assert soak.first_tick_after_pause_with_landing == soak.pause_end_tick

    # The revoked user was found out at their next crawl and never crawled again.
    assert soak.failures["revoked (invalid_grant)"] == 1
    assert soak.registry.get(REVOKED_USER).status == "revoked"
    assert REVOKE_AT <= soak.revoked_detected_at <= REVOKE_AT + 10
    assert soak.launched_after_revocation == 0

    # The killed run's pull was picked up by the user's next load.
    _, killed_pull = soak.kill_record
    assert soak.kill_followup is not None and soak.kill_followup.pulls_loaded >= 2
    assert soak.query("select outcome from meta.loaded_pulls where pull_id = $p", {"p": killed_pull}) == [("loaded",)]

    # Every landed pull was loaded exactly once, none rejected; no load warned of a gap.
    landed = {pull for pulls in soak.landed_pulls.values() for pull in pulls}
    recorded = soak.query("select pull_id, outcome from meta.loaded_pulls")
    assert len(recorded) == len({p for p, _ in recorded})
    assert {p for p, outcome in recorded if outcome == "loaded"} == landed
    assert {outcome for _, outcome in recorded} == {"loaded"}
    gaps = [(r.user_id, r.newest_played_at) for r in soak.loads if r.possible_gap]
    assert gaps == [], f"loads warned of a gap: {gaps}"

    # -- the cost, against a fixed 1-minute poll ----------------------------------------------
    assert per_user_day < 700, f"{per_user_day:.0f} requests per user per day"

    # ~700 MB of landed pulls (Spotify's answers are ~100 KB each): kept only when the test fails.
    shutil.rmtree(soak.landing.root)
