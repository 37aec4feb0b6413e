"""The CPU the whole Dagster instance spends per crawl run, as the machine pays it (crawl_run_cost.py uses this).

`listory ui` is started as a service would start it (its own process tree: dagster dev, the
webserver, the daemon, both code servers, the fork servers and every run worker they fork),
with N simulated users on a simulator served from this process. After a warm-up, the CPU of
that tree is sampled at the start and the end of the window: live processes from /proc (own
and reaped children's time), plus what this process reaped itself. This process is made a
child subreaper, so a descendant orphaned by its parent is reparented here and its time is
still counted. What report runs cost is not charged to crawls: the reports fork server
(started with the first report run, ~7 CPU-s of dbt parsing and warm-up) and the report
workers it forks, which the hourly schedule may or may not start within a given window; it
is shown apart, and so is the figure with it. Everything else the instance does (sensor
ticks, the webserver idling, the crawl fork server, launches) is charged to the crawl runs.

The yardstick is `python -c "import dagster"` in a fresh process on the same machine in the
same run: machines here differ 2-3x in speed, so the target is a ratio to it. It is sampled inside
the window too (its processes' time is taken out of the tree's), so the ratio compares the two
under the same conditions.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from postgres_storage import postgres_dagster_home, scalar, start_postgres

PR_SET_CHILD_SUBREAPER = 36
# One yardstick sample this often inside the window (ten in 30 minutes): the machine's speed drifts,
# and samples taken only before and after the window can miss what it was while the instance ran.
YARDSTICK_EVERY_SECONDS = 180.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class InstanceCost:
    minutes: float
    users: int
    crawl_runs: int
    failed_crawl_runs: int
    report_runs: int
    tree_cpu_seconds: float
    report_worker_cpu_seconds: float
    run_worker_cpu_seconds: float
    processes_seen: int
    cpu_seconds_by_role: dict[str, float]
    yardstick_during: list[float] = field(default_factory=list)  # `import dagster` CPU-s, sampled inside the window
    dagster_storage: str = "sqlite"
    postgres_sessions: int | None = None  # server sessions opened in the window (PostgreSQL only)

    @property
    def reports_cpu_seconds(self) -> float:
        """The reports fork server and its workers (a report worker is reaped by that server)."""
        return max(self.cpu_seconds_by_role.get(REPORTS_ROLE, 0.0), self.report_worker_cpu_seconds)

    @property
    def cpu_per_crawl_run(self) -> float:
        return (self.tree_cpu_seconds - self.reports_cpu_seconds) / max(self.crawl_runs, 1)

    @property
    def cpu_per_crawl_run_with_reports(self) -> float:
        return self.tree_cpu_seconds / max(self.crawl_runs, 1)

    @property
    def run_worker_cpu_per_crawl_run(self) -> float:
        return self.run_worker_cpu_seconds / max(self.crawl_runs, 1)


def import_dagster_cpu_samples(times: int = 5) -> list[float]:
    """CPU seconds of `times` fresh `python -c "import dagster"` processes."""
    samples = []
    for _ in range(times):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import dagster"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return samples


def measure_instance_against_yardstick(yardstick_before: list[float], **measure_arguments) -> tuple[InstanceCost, float]:
    """The instance's cost, and the yardstick as the median of the samples taken before it
    (`yardstick_before`), those taken inside the window and five more after it: the machine's speed
    drifts over a long measurement (other tenants; `import dagster` moved from ~1.1 to ~0.76 CPU-s
    between sessions, and from 1.03 to 0.66 within one run)."""
    cost = measure_instance(**measure_arguments)
    if cost.crawl_runs == 0:
        # a cost per crawl run of no crawl run would be the idle instance's cost, passed off as one run's
        raise SystemExit(f"no crawl run finished in the {cost.minutes} measured minutes with {cost.users} users "
                         "(the instance idled at " + json.dumps(cost.cpu_seconds_by_role) + " CPU-s): measure longer or with more users")
    after = import_dagster_cpu_samples()
    samples = yardstick_before + cost.yardstick_during + after
    yardstick = statistics.median(samples)
    during = f"{statistics.median(cost.yardstick_during):.3f} during it, " if cost.yardstick_during else ""
    print(f"yardstick: python -c 'import dagster' took {yardstick:.3f} CPU s (median of {len(samples)}: "
          f"{statistics.median(yardstick_before):.3f} before the instance, {during}{statistics.median(after):.3f} after)", flush=True)
    print("instance CPU-s by process: " + json.dumps(cost.cpu_seconds_by_role), flush=True)
    return cost, yardstick


def _role(pid: int) -> str:
    """What a process of the instance is, from its command line (its reaped children count as it)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    for needle, role in ROLES:
        if needle in command:
            return role
    return "other"


REPORTS_ROLE = "reports fork server and report runs"
POSTGRES_ROLE = "PostgreSQL server (Dagster's storage)"
# First match wins: a run worker is forked from its fork server and shows the server's command line.
ROLES = (
    ("/bin/postgres ", POSTGRES_ROLE),  # the postmaster; its backends (below) are "postgres: <user> <db> ..."
    ("postgres: ", POSTGRES_ROLE),
    ("listory_pipeline.runner.preload_reports", REPORTS_ROLE),
    ("multiprocessing.forkserver", "crawl fork server and crawl runs"),
    ("listory_pipeline.runner.webserver", "webserver"),
    ("listory_pipeline.runner.daemon", "daemon"),
    ("listory_pipeline.runner.serve", "supervisors (listory ui, dagster dev)"),
    ("dagster-webserver", "webserver"),
    ("dagster_webserver", "webserver"),
    ("dagster-daemon", "daemon"),
    ("dagster._daemon", "daemon"),
    (" code-server ", "code-server proxies"),
    (" api grpc", "code servers"),
    (" dev ", "supervisors (listory ui, dagster dev)"),
    (" ui ", "supervisors (listory ui, dagster dev)"),
)


def _descendant_cpu(root: int) -> tuple[dict[int, float], dict[int, str]]:
    """CPU seconds (own + reaped children) of every live descendant of `root`, and each one's role."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                raw = handle.read().decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
        pid = int(entry)
        parents[pid] = int(fields[1])
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        times[pid] = (utime + stime + cutime + cstime) / CLOCK_TICKS
    live: dict[int, float] = {}
    for pid in times:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor not in (0, 1, root):
            ancestor = parents.get(ancestor)
        if ancestor == root:
            live[pid] = times[pid]
    return live, {pid: _role(pid) for pid in live}


def _reaped_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@dataclass
class TreeSample:
    reaped: float
    live: dict[int, float]
    roles: dict[int, str]

    @property
    def total(self) -> float:
        return self.reaped + sum(self.live.values())


def _tree_cpu() -> TreeSample:
    _reap_orphans()
    live, roles = _descendant_cpu(os.getpid())
    return TreeSample(_reaped_cpu(), live, roles)


def _cpu_by_role(start: TreeSample, end: TreeSample) -> dict[str, float]:
    """CPU spent in the window by each role. A process that ended in the window is counted in its
    parent (which reaped it); what this process reaped itself (orphans) is counted apart."""
    spent: dict[str, float] = {"reaped by the benchmark": end.reaped - start.reaped}
    for pid, seconds in end.live.items():
        role = end.roles[pid]
        spent[role] = spent.get(role, 0.0) + seconds - start.live.get(pid, 0.0)
    for pid, seconds in start.live.items():
        if pid not in end.live:  # ended: its time moved to whoever reaped it
            role = start.roles[pid]
            spent[role] = spent.get(role, 0.0) - seconds
    return {role: round(seconds, 1) for role, seconds in sorted(spent.items())}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _finished_runs(dagster_home: Path) -> dict[str, object]:
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from listory_pipeline.runner.launcher import CPU_TAG

    done = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        crawls = instance.get_runs(RunsFilter(job_name="crawl_user_job", statuses=done))
        reports = instance.get_runs(RunsFilter(job_name="build_reports_job", statuses=done))
    return {
        "crawls": {run.run_id for run in crawls},
        "failed": {run.run_id for run in crawls if run.status != DagsterRunStatus.SUCCESS},
        "reports": {run.run_id for run in reports},
        "cpu": {run.run_id: float(run.tags.get(CPU_TAG, 0.0)) for run in [*crawls, *reports]},
    }


def _postgres_sessions(server) -> int:
    """Sessions the server has started in Dagster's database: each is a backend process forked for a connection."""
    return scalar(server, "select sessions from pg_stat_database where datname = current_database()")


def measure_instance(*, users: int, minutes: float, warmup_minutes: float, seed: int = 11,
                     dagster_storage: str = "sqlite") -> InstanceCost:
    """Run `listory ui` with `users` simulated users for warm-up + `minutes`; the CPU of the window.

    With `dagster_storage="postgres"` the instance is production's (deploy/dagster-postgres.yaml)
    on a private PostgreSQL cluster started here, after this process became the subreaper: the
    server's processes are then descendants too, and what they spend is counted as the instance's."""
    with contextlib.ExitStack() as stack:
        return _measure_instance(stack, users, minutes, warmup_minutes, seed, dagster_storage)


def _measure_instance(stack: contextlib.ExitStack, users: int, minutes: float, warmup_minutes: float, seed: int,
                      dagster_storage: str) -> InstanceCost:
    import tempfile

    from listory_pipeline import runtime
    from listory_pipeline.settings import load_settings
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    home = Path(tempfile.mkdtemp(prefix="listory-instance-cpu-"))
    postgres = None
    if dagster_storage == "postgres":
        # beside LISTORY_HOME, not in it: `listory` makes the home private (0700), which would lock
        # the server's `postgres` account out of its own data directory, and its shutdown with it
        postgres = start_postgres(stack, Path(tempfile.mkdtemp(prefix="listory-instance-cpu-postgres-")))
        postgres_dagster_home(home / "dagster", postgres)  # its variables reach `listory ui` and _finished_runs
    simulator = Simulator(SimulatorConfig(seed=seed, n_users=users))
    with SimulatorServer(simulator) as server:
        env = {key: value for key, value in os.environ.items() if key not in {"DAGSTER_HOME", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"}}
        env.update({"LISTORY_HOME": str(home), "LISTORY_SIMULATOR_URL": server.base_url})
        settings = load_settings(env)
        registry = runtime.user_registry(settings)
        for user in simulator.users():
            registry.register(user.user_id, simulator.refresh_token_for(user.user_id), timezone_name=user.timezone)
        command = [sys.executable, "-m", "listory_pipeline.cli", "ui", "--port", str(_free_port())]
        log = open(home / "ui.log", "wb")
        ui = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
        try:
            time.sleep(warmup_minutes * 60)
            if ui.poll() is not None:
                raise SystemExit(f"listory ui ended during warm-up (see {home / 'ui.log'})")
            sample_start = _tree_cpu()
            runs_start = _finished_runs(home / "dagster")
            sessions_start = _postgres_sessions(postgres) if postgres else None
            seen = 0
            yardstick_during: list[float] = []
            deadline = time.monotonic() + minutes * 60
            next_yardstick = time.monotonic() + YARDSTICK_EVERY_SECONDS / 2
            while time.monotonic() < deadline:
                time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
                seen = max(seen, len(_tree_cpu().live))
                if time.monotonic() >= next_yardstick and time.monotonic() < deadline:
                    yardstick_during += import_dagster_cpu_samples(1)
                    next_yardstick += YARDSTICK_EVERY_SECONDS
            sample_end = _tree_cpu()
            # the yardstick's processes were reaped by this process: their time is not the instance's
            sample_end.reaped -= sum(yardstick_during)
            sessions_end = _postgres_sessions(postgres) if postgres else None
            runs_end = _finished_runs(home / "dagster")
        finally:
            ui.send_signal(signal.SIGTERM)
            try:
                ui.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(ui.pid, signal.SIGKILL)
            _reap_orphans()
            log.close()
    window_crawls = runs_end["crawls"] - runs_start["crawls"]
    window_reports = runs_end["reports"] - runs_start["reports"]
    return InstanceCost(
        minutes=minutes,
        users=users,
        crawl_runs=len(window_crawls),
        failed_crawl_runs=len(window_crawls & runs_end["failed"]),
        report_runs=len(window_reports),
        tree_cpu_seconds=sample_end.total - sample_start.total,
        cpu_seconds_by_role=_cpu_by_role(sample_start, sample_end),
        report_worker_cpu_seconds=sum(runs_end["cpu"][run_id] for run_id in window_reports),
        run_worker_cpu_seconds=sum(runs_end["cpu"][run_id] for run_id in window_crawls),
        processes_seen=seen,
        yardstick_during=yardstick_during,
        dagster_storage=dagster_storage,
        postgres_sessions=None if postgres is None else sessions_end - sessions_start,
    )
