"""dbt inside this Python process, from a project parsed once per process.

A `dbt` subprocess pays for its start-up on every build: importing dbt (~1.3 s on this
machine) and loading the parsed project (~2 s with partial parsing) before any SQL runs, more
than the models themselves need for a user with a million plays (benchmarks/reports.py). dbt's
programmatic entry point (`dbtRunner`) takes an already parsed manifest, so a long-lived
process, the run workers' fork server, pays import and parse once and every report build after
that runs only the models.

Three things dbt does not do for us in-process:

- release the warehouse: dbt-duckdb keeps its DuckDB database open for the life of the process
  (a class-level environment), which would lock crawl loads out of the file and keep this
  process's own read-only connections from opening it; it is closed after every invocation;
- notice changed project files: a cached parse is reused only while the files it was parsed
  from are unchanged (fingerprint of paths, sizes and modification times);
- serialise invocations: dbt's flags and adapter registry are process-wide, so one invocation
  runs at a time per process; and one build at a time per LISTORY_HOME across processes (a
  file lock, reports/build_lock.py), so `listory reports build` and a scheduled report run
  queue instead of failing on DuckDB's writer lock or interleaving their writes to dbt's state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from listory_pipeline.reports.build_lock import Waiting, home_build_lock
from listory_pipeline.reports.project import DBT_PROJECT_DIR, dbt_environment, dbt_target_path, prepare_target_path
from listory_pipeline.settings import Settings

# Folders of a dbt project that are dbt's output, not its input.
_OUTPUT_DIRS = {"target", "logs", "dbt_packages", "__pycache__"}

# dbt's static parser (dbt-extractor) runs on a Rust thread pool that survives the parse: a
# process forked afterwards (every report run, from the fork server) inherits a pool without
# its threads and hangs at its own next parse. Jinja renders model configs instead (slower only
# on a full parse, ~20 models here).
_PARSE_FLAGS = ["--no-static-parser"]

# dbt writes manifest.json and run_results.json after every invocation (~0.2 s for this
# project); nothing reads them here (the result comes back as an object), so they are skipped.
# dbt.log keeps info and errors (node results, failures); the text of every SQL statement at
# debug level costs ~0.1 s a build.
_RUN_FLAGS = ["--no-write-json", "--log-level-file", "info"]


class DbtParseError(RuntimeError):
    """The dbt project could not be parsed (a broken model, macro or yml, or a wrong profile)."""


@dataclass(frozen=True)
class NodeOutcome:
    unique_id: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status in ("success", "pass")  # a model built, a test passed


@dataclass(frozen=True)
class DbtInvocation:
    """What one dbt command did: whether it succeeded, each node's outcome, or why it never ran."""

    success: bool
    nodes: list[NodeOutcome] = field(default_factory=list)
    error: str | None = None  # dbt failed as a whole (profile, compilation of the run), no node outcome

    @property
    def failures(self) -> list[str]:
        failed = [f"{n.status} {n.unique_id}: {n.message}" for n in self.nodes if not n.passed]
        return failed + ([self.error] if self.error else [])

    @property
    def node_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        return counts


def project_fingerprint(project_dir: Path) -> str:
    """Paths, sizes and modification times of every input file of the project (a few ms)."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if relative.parts[0] in _OUTPUT_DIRS or not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ParsedProject:
    """A dbt manifest parsed for one project folder and one warehouse file (dbt's `database`)."""

    project_dir: Path
    warehouse_path: Path
    fingerprint: str
    manifest: Any  # dbt.contracts.graph.manifest.Manifest


_lock = threading.RLock()
_parsed: ParsedProject | None = None


def _common_args(project_dir: Path, target: Path) -> list[str]:
    return ["--project-dir", str(project_dir), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target), "--log-path", str(target)]


def _parse(settings: Settings, project_dir: Path) -> ParsedProject:
    from dbt.cli.main import dbtRunner

    fingerprint = project_fingerprint(project_dir)
    target = prepare_target_path(settings)
    with dbt_environment(settings, None):
        outcome = dbtRunner().invoke(["parse", "--quiet", *_PARSE_FLAGS, *_common_args(project_dir, target)])
    _release_warehouse()
    if not outcome.success or outcome.result is None:
        raise DbtParseError(f"dbt could not parse {project_dir}: {outcome.exception or 'see dbt.log in ' + str(target)}")
    return ParsedProject(project_dir, settings.warehouse_path, fingerprint, outcome.result)


def parsed_project(settings: Settings, project_dir: Path = DBT_PROJECT_DIR) -> ParsedProject:
    """The process's parsed project, parsed now if there is none or its files or warehouse changed."""
    global _parsed
    with _lock:
        current = _parsed
        if (
            current is None
            or current.project_dir != project_dir
            or current.warehouse_path != settings.warehouse_path
            or current.fingerprint != project_fingerprint(project_dir)
        ):
            current = _parse(settings, project_dir)
            if project_dir == DBT_PROJECT_DIR:  # keep the project itself, not one-off copies
                _parsed = current
        return current


def project_manifest_path(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """The manifest the reports code location defines its assets from (dagster-dbt's default place)."""
    return project_dir / "target" / "manifest.json"


def ensure_project_manifest(settings: Settings) -> Path:
    """The project's own manifest, written from this process's parse when missing or older than a project file.

    `listory ui` calls this before loading the code locations, and so does the CLI building reports
    as a Dagster run: without it a fresh clone has no manifest to define the reports location from. The parse
    is the one the build then reuses, so it costs nothing extra.
    """
    manifest = project_manifest_path()
    if manifest.exists() and manifest.stat().st_mtime_ns >= _newest_input_mtime_ns(DBT_PROJECT_DIR):
        return manifest
    parsed_project(settings)  # dbt writes its manifest.json into the home's target folder
    written = dbt_target_path(settings) / "manifest.json"
    try:
        manifest.parent.mkdir(parents=True, exist_ok=True)
        partial = manifest.with_name(f".manifest.json.{os.getpid()}.tmp")
        shutil.copyfile(written, partial)
        os.replace(partial, manifest)  # a process reading it meanwhile sees the old one or the new one
    except OSError as exc:
        raise DbtParseError(
            f"cannot write {manifest} ({exc.strerror}); run `uv run dbt parse --project-dir {DBT_PROJECT_DIR} "
            f"--profiles-dir {DBT_PROJECT_DIR}` as the owner of the project folder"
        ) from exc
    return manifest


def _newest_input_mtime_ns(project_dir: Path) -> int:
    newest = 0
    for path in project_dir.rglob("*"):
        if path.relative_to(project_dir).parts[0] not in _OUTPUT_DIRS and path.is_file():
            newest = max(newest, path.stat().st_mtime_ns)
    return newest


def is_warm(settings: Settings) -> bool:
    """Whether this process holds a parse for this warehouse (reused while the project files are unchanged)."""
    current = _parsed
    return current is not None and current.warehouse_path == settings.warehouse_path


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open per process, so others can open the file.

    dbt-duckdb has no public call for it: its connection manager holds the database in the
    class attribute `_ENV` until the interpreter exits.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        return
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
        DuckDBConnectionManager.close_all_connections()


def cancel_running() -> None:
    """Interrupt the queries of a dbt invocation running in this process (from another thread)."""
    try:
        from dbt.adapters.factory import FACTORY
    except ImportError:  # pragma: no cover
        return
    for adapter in list(FACTORY.adapters.values()):
        try:
            adapter.cancel_open_connections()
        except Exception:  # noqa: BLE001 - best effort: the invocation ends with an error either way
            pass


def _forwarder(on_event: Callable[[dict[str, Any]], None], names: Collection[str] | None):
    """A dbt callback passing events on as dicts of dbt's JSON log format (what dagster-dbt reads).

    Converting an event costs ~0.1 ms and a build fires thousands (every SQL statement is
    several), so a caller that wants only some names gets those, plus every error.
    """
    from dbt_common.events.functions import msg_to_dict

    def forward(message) -> None:
        if names is None or message.info.name in names or message.info.level == "error":
            on_event(msg_to_dict(message))

    return forward


def invoke(
    settings: Settings,
    as_of: date | None,
    command: Sequence[str],
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    event_names: Collection[str] | None = None,
    quiet: bool = True,
    project_dir: Path = DBT_PROJECT_DIR,
    on_wait: Callable[[Waiting], None] | None = None,
    cancelled: threading.Event | None = None,
) -> DbtInvocation:
    """Run one dbt command (`["build", "--select", …]`) in this process; never raises on dbt failures.

    `on_event` receives dbt's events (those named in `event_names` and every error, or all when
    None) as dicts, from dbt's worker threads; `on_wait` is told when the build has to wait for
    another process's build of the same home. Raises DbtParseError when the project cannot be
    parsed.
    """
    with _lock, home_build_lock(settings, on_wait, cancelled):
        project = parsed_project(settings, project_dir)
        return _invoke_parsed(project, settings, as_of, command, on_event, event_names, quiet)


def _invoke_parsed(project, settings, as_of, command, on_event=None, event_names=None, quiet=True) -> DbtInvocation:
    from dbt.cli.main import dbtRunner

    target = prepare_target_path(settings)
    callbacks = [_forwarder(on_event, event_names)] if on_event else []
    args = [*command, *_common_args(project.project_dir, target), *_RUN_FLAGS, *(["--quiet"] if quiet else [])]
    try:
        with dbt_environment(settings, as_of):
            outcome = dbtRunner(manifest=project.manifest, callbacks=callbacks).invoke(args)
    finally:
        _release_warehouse()
    return _summarise(outcome)


def warm_up(settings: Settings) -> float:
    """Parse the project for `settings`, then build it once into an empty scratch warehouse.

    For a process that will fork report builds (the run workers' fork server): the first build
    in a process is ~0.2 s slower than later ones (dbt compiles its materialization macros,
    DuckDB loads time zone data), and a forked worker only ever runs one. The scratch build
    pays that once, here, without touching the real warehouse. Returns the seconds it took.
    """
    import shutil
    import tempfile

    from listory_pipeline.warehouse.connection import open_warehouse

    started = time.monotonic()
    with _lock:
        with home_build_lock(settings):  # the parse writes dbt's state into this home
            project = parsed_project(settings)
        scratch_home = Path(tempfile.mkdtemp(prefix="listory-dbt-warm-up-"))
        try:
            # LISTORY_HOME/pipeline/warehouse.duckdb: the file name, dbt's `database`, matches the parse
            scratch = dataclasses.replace(settings, home=scratch_home)
            with open_warehouse(scratch.warehouse_path):
                pass  # the core schema, empty
            outcome = _invoke_parsed(project, scratch, None, ["run"])
            if not outcome.success:
                raise RuntimeError("warm-up build into an empty warehouse failed: " + "; ".join(outcome.failures))
        finally:
            shutil.rmtree(scratch_home, ignore_errors=True)
    return time.monotonic() - started


def _summarise(outcome) -> DbtInvocation:
    nodes = [
        NodeOutcome(str(result.node.unique_id), str(result.status), _first_line(result.message))
        for result in getattr(outcome.result, "results", None) or []
    ]
    error = None
    if outcome.exception is not None:
        error = f"dbt failed before running: {outcome.exception}"
    elif not outcome.success and all(n.passed for n in nodes):
        error = "dbt reported a failure without a failed node (see dbt.log in the target folder)"
    return DbtInvocation(success=bool(outcome.success), nodes=nodes, error=error)


# dbt's "Runtime Error in model x (models/x.sql)" names the node; the line after it says what went wrong
_NODE_ERROR_HEADER = re.compile(r"^[A-Za-z ]*Error in \w+ \S+ \(.*\)$")


def _first_line(message: str | None) -> str:
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    if len(lines) > 1 and _NODE_ERROR_HEADER.match(lines[0]):
        return f"{lines[0]}: {lines[1]}"
    return lines[0] if lines else ""


def stream(
    settings: Settings,
    as_of: date | None,
    command: Sequence[str],
    *,
    event_names: Collection[str] | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
    poll_seconds: float = 0.5,
) -> Iterator[dict[str, Any] | Waiting | DbtInvocation]:
    """`invoke` on a worker thread, yielding its events (and a Waiting, if it has to wait for
    another build) here as they happen, then its DbtInvocation.

    For callers that must act on events from their own thread (Dagster's step context). If the
    consumer is interrupted (run terminated), the running queries are cancelled and the worker
    joined before the interruption propagates, so the warehouse is released either way.
    """
    import queue

    events: queue.Queue = queue.Queue()
    cancelled = threading.Event()
    done = object()
    outcome: list[DbtInvocation | BaseException] = []

    def work() -> None:
        try:
            outcome.append(
                invoke(settings, as_of, command, on_event=events.put, event_names=event_names,
                       project_dir=project_dir, on_wait=events.put, cancelled=cancelled)
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised on the consumer's thread
            outcome.append(exc)
        finally:
            events.put(done)

    worker = threading.Thread(target=work, name="dbt-invocation", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = events.get(timeout=poll_seconds)
            except queue.Empty:
                continue
            if item is done:
                break
            yield item
    except BaseException:
        cancelled.set()
        cancel_running()
        worker.join()
        raise
    worker.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    yield result
