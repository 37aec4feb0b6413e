"""Sensors that decide who is crawled when; they read the registry, their cursor and the event log, never DuckDB."""

import time
from datetime import datetime

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.tags import PARTITION_NAME_TAG

from listory_pipeline import runtime
from listory_pipeline.crawl import scheduling
from listory_pipeline.defs.crawl.jobs import crawl_user_job
from listory_pipeline.defs.events import EVENT_PAGE, materializations_after
from listory_pipeline.defs.in_flight import users_in_flight
from listory_pipeline.defs.partitions import spotify_users
from listory_pipeline.defs.resources import RegistryResource

LANDING_KEY = AssetKey(["landing", "recently_played"])


def learn_from_event_log(instance: DagsterInstance, cursor: scheduling.SchedulerCursor) -> None:
    """Fold new crawl outcomes into the cursor: successes (with the newest play) and failed runs."""
    for record in materializations_after(instance, LANDING_KEY, cursor.materialization_storage_id):
        cursor.materialization_storage_id = record.storage_id
        user_id = record.partition_key
        if user_id is None:
            continue
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        newest = metadata.get("newest_played_at")
        newest_epoch = None
        if newest is not None and newest.value:
            newest_epoch = datetime.fromisoformat(str(newest.value).replace("Z", "+00:00")).timestamp()
        scheduling.record_success(cursor, user_id, at=record.timestamp, newest_play=newest_epoch)
    while True:
        # A plain event-type filter works on every storage (filtered selectors do not).
        result = instance.fetch_run_status_changes(
            DagsterEventType.RUN_FAILURE, limit=EVENT_PAGE, cursor=cursor.failure_cursor, ascending=True
        )
        cursor.failure_cursor = result.cursor
        run_ids = [record.run_id for record in result.records]
        if run_ids:
            # by id alone: with the job name too, SQLite reads every kept run of the job (defs/in_flight.py)
            for run in instance.get_runs(RunsFilter(run_ids=run_ids)):
                user_id = run.tags.get(PARTITION_NAME_TAG)
                if user_id and run.job_name == crawl_user_job.name:
                    scheduling.record_failure(cursor, user_id)
        if not result.has_more:
            break


def app_pauses(settings, users, pauses) -> tuple[dict[str, float], dict[str, str]]:
    """(paused app key -> end of its pause in epoch seconds, user id -> app key) from the pause
    store's active pauses: what holds a user's Spotify requests."""
    return (
        {key: pause.until.timestamp() for key, pause in pauses.items()},
        {user.user_id: runtime.app_key_for_user(settings, user) for user in users},
    )


@sensor(
    job=crawl_user_job,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Gives a newly registered user a partition and their first crawl at once, and drops the partitions of "
        "removed users; crawls every active user at least every 10 minutes, every minute while they listened "
        "in the last hour; backs off users whose crawls fail; holds an app's users while Spotify rate-limits it."
    ),
)
def adaptive_crawl_sensor(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    """The one sensor that decides who is crawled when, the discovery of users included: a sensor of its
    own for new users ticked 4 times a minute for an event a deployment sees a few times in its life."""
    settings = registry.settings()
    policy = scheduling.CrawlPolicy(
        active_interval_seconds=settings.crawl_active_interval_seconds,
        idle_interval_seconds=settings.crawl_idle_interval_seconds,
        active_window_seconds=settings.crawl_active_window_seconds,
    )
    now = time.time()
    cursor = scheduling.SchedulerCursor.from_json(context.cursor)
    learn_from_event_log(context.instance, cursor)
    users = registry.registry().list()
    scheduling.forget_missing(cursor, {user.user_id for user in users})
    for line in scheduling.attention_lines(users):
        context.log.warning(line)
    pauses = runtime.pause_store(settings).active()
    paused_apps, app_of_user = app_pauses(settings, users, pauses)
    existing = context.instance.get_dynamic_partitions(spotify_users.name)
    new_user_ids = scheduling.users_needing_partitions(users, existing)
    removed_user_ids = scheduling.partitions_without_users(users, existing)
    partition_requests = [spotify_users.build_add_request(new_user_ids)] if new_user_ids else []
    if removed_user_ids:
        context.log.info("dropping the partitions of removed users: %s", ", ".join(removed_user_ids))
        partition_requests.append(spotify_users.build_delete_request(removed_user_ids))
    run_requests = []
    for user_id in new_user_ids:  # first crawls at once, whatever the pauses: a paused app's run fails fast
        run_requests.append(RunRequest(partition_key=user_id, run_key=scheduling.first_crawl_run_key(user_id)))
        scheduling.record_requested(cursor, user_id, now)
    due = scheduling.due_users(
        users,
        cursor,
        now,
        policy=policy,
        partitions=set(existing),
        in_flight=users_in_flight(context.instance, {crawl_user_job.name}),
        paused_apps=paused_apps,
        app_of_user=app_of_user,
    )
    for user_id in due:
        state = cursor.users.get(user_id) or scheduling.UserCrawlState()
        run_requests.append(
            RunRequest(partition_key=user_id, run_key=scheduling.crawl_run_key(user_id, scheduling.next_due(state, now, policy)))
        )
        scheduling.record_requested(cursor, user_id, now)
    skip_reason = None
    if not run_requests and not partition_requests:
        skip_reason = "; ".join(
            f"Spotify app {key} rate-limited ({pause.reason}) until {pause.until:%Y-%m-%d %H:%M:%S} UTC"
            for key, pause in pauses.items()
        ) or "no user is due"
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        cursor=cursor.to_json(),
        skip_reason=skip_reason,
    )
