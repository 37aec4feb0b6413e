"""The crawl sensor discovers users from the registry and the instance; these call it on an ephemeral instance."""

from __future__ import annotations

from dagster import DagsterInstance, build_sensor_context

from listory_pipeline import runtime
from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
from listory_pipeline.defs.resources import RegistryResource
from listory_pipeline.settings import load_settings


def test_a_new_user_gets_a_partition_and_an_immediate_first_crawl(tmp_path):
    home = tmp_path / "home"
    registry = runtime.user_registry(load_settings({"LISTORY_HOME": str(home)}))
    registry.register("newcomer", "rt-1", timezone_name="Europe/Berlin")
    registry.register("gone", "rt-2")
    registry.set_status("gone", "disabled")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources={"registry": RegistryResource(listory_home=str(home))})
        result = adaptive_crawl_sensor(context)
        assert [r.partition_key for r in result.run_requests] == ["newcomer"]
        assert result.run_requests[0].run_key == "first-crawl:newcomer"
        assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [["newcomer"]]

        # Once the partition exists, no second partition, and no second crawl while the first is not done.
        instance.add_dynamic_partitions("spotify_users", ["newcomer"])
        again = adaptive_crawl_sensor(build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"registry": RegistryResource(listory_home=str(home))}))
        assert again.run_requests == [] and again.dynamic_partitions_requests == []


def test_a_removed_user_loses_their_partition_a_disabled_one_keeps_it(tmp_path):
    home = tmp_path / "home"
    registry = runtime.user_registry(load_settings({"LISTORY_HOME": str(home)}))
    registry.register("staying", "rt-1")
    registry.register("resting", "rt-2")
    registry.set_status("resting", "disabled")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("spotify_users", ["staying", "resting", "removed"])
        context = build_sensor_context(instance=instance, resources={"registry": RegistryResource(listory_home=str(home))})
        result = adaptive_crawl_sensor(context)
        assert [r.partition_key for r in result.run_requests] == ["staying"]  # due (never crawled); not the others
        [request] = result.dynamic_partitions_requests
        assert type(request).__name__ == "DeleteDynamicPartitionsRequest"
        assert list(request.partition_keys) == ["removed"]
