"""Sensors of the history import: the drop folder, and resolution resumed until it is complete."""

from __future__ import annotations

import json
import time

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from listory_pipeline import runtime
from listory_pipeline.defs.crawl.sensors import app_pauses
from listory_pipeline.defs.in_flight import users_in_flight
from listory_pipeline.defs.events import materializations_after
from listory_pipeline.defs.history.assets import IMPORTED_CATALOG_KEY
from listory_pipeline.defs.history.jobs import import_history_job, resolve_imported_tracks_job
from listory_pipeline.defs.partitions import spotify_users
from listory_pipeline.defs.resources import RegistryResource
from listory_pipeline.history import scheduling


@sensor(
    job=import_history_job,
    minimum_interval_seconds=60,  # an export is imported within two minutes of being dropped
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Imports a user's Spotify export dropped into LISTORY_HOME/imports/<user id>/ (the zip, its folder or JSON "
        "files) once it has stopped changing; the same contents are imported once."
    ),
)
def history_drop_sensor(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    settings = registry.settings()
    previous = json.loads(context.cursor) if context.cursor else {}
    scanned = scheduling.scan_drop_folder(settings.imports_dir)
    users = {user.user_id for user in registry.registry().list()}
    partitions = set(context.instance.get_dynamic_partitions(spotify_users.name))
    run_requests = []
    for drop in scheduling.ready_drops(scanned, previous):
        if drop.user_id not in users or drop.user_id not in partitions:
            context.log.warning("%s: no registered user %r with a partition; not imported", drop.folder, drop.user_id)
            continue
        run_requests.append(
            RunRequest(
                partition_key=drop.user_id,
                run_key=scheduling.drop_run_key(drop),
                run_config={"ops": {"landing__extended_history": {"config": {"paths": [str(drop.folder)]}}}},
                tags={"listory/import": "drop-folder"},
            )
        )
    cursor = json.dumps({drop.user_id: drop.fingerprint for drop in scanned}, sort_keys=True)
    skip_reason = None if run_requests else f"no new export in {settings.imports_dir}"
    return SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip_reason)


def _learn_resolution_states(context: SensorEvaluationContext) -> tuple[int | None, dict]:
    data = json.loads(context.cursor) if context.cursor else {}
    after = data.get("m")
    states = {user: scheduling.ResolutionState(*values) for user, values in data.get("u", {}).items()}
    for record in materializations_after(context.instance, IMPORTED_CATALOG_KEY, after):
        after = record.storage_id
        if record.partition_key is None or record.asset_materialization is None:
            continue
        pending = record.asset_materialization.metadata.get("pending_tracks")
        states[record.partition_key] = scheduling.ResolutionState(
            int(pending.value) if pending is not None else 0, record.storage_id, record.timestamp
        )
    return after, states


@sensor(
    job=resolve_imported_tracks_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Resumes the resolution of imported tracks while some are pending (budget spent, rate limit passed, run "
        "interrupted); holds an app's users while Spotify rate-limits it."
    ),
)
def track_resolution_sensor(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    settings = registry.settings()
    after, states = _learn_resolution_states(context)
    users = registry.registry().list()
    paused_apps, app_of_user = app_pauses(settings, users, runtime.pause_store(settings).active())
    requests = scheduling.resolution_requests(
        states,
        time.time(),
        in_flight=users_in_flight(context.instance, {resolve_imported_tracks_job.name, import_history_job.name}),
        paused_apps=paused_apps,
        app_of_user=app_of_user,
        active_users={user.user_id for user in users if user.status == "active"},
    )
    registered = {user.user_id for user in users}
    cursor = json.dumps(
        {
            "m": after,
            "u": {user: [s.pending, s.storage_id, s.at] for user, s in states.items() if user in registered},
        }
    )
    return SensorResult(
        run_requests=[RunRequest(partition_key=user_id, run_key=key) for user_id, key in requests],
        cursor=cursor,
        skip_reason=None if requests else "no imported tracks wait for resolution",
    )
