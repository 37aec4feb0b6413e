"""`listory ui` as deploy/listory-ui.service runs it: by path, no venv on PATH, stopped with SIGTERM or SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


UNIT = Path(__file__).resolve().parents[2] / "deploy" / "listory-ui.service"


def _unit_command(port: int) -> list[str]:
    """The sample unit's ExecStart, with this checkout's venv and a free port."""
    [line] = [line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    binary, *args = line.removeprefix("ExecStart=").split()
    assert binary == "/opt/listory-pipeline/.venv/bin/listory"
    args[args.index("--port") + 1] = str(port)
    return [str(Path(sys.executable).parent / "listory"), *args]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_listory_ui_by_path_starts_and_leaves_no_process_behind(tmp_path, stop_signal):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LISTORY_HOME": str(tmp_path / "home")}
    ui = subprocess.Popen(
        _unit_command(port), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert ui.poll() is None, ui.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the Dagster UI never answered"
            time.sleep(1)
        started = _descendants(ui.pid)
        assert len(started) >= 3  # the serving process, its webserver and daemon at least
        # both code locations loaded inside the webserver (and the daemon): no code server, no proxy
        commands = [(Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ") for pid in started
                    if (Path("/proc") / str(pid)).exists()]
        assert not [c for c in commands if b" api grpc" in c or b" code-server " in c or b" dev " in c]
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
        entries = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30).json()
        assert entries["data"]["workspaceOrError"]["locationEntries"] == [
            {"name": "listory_pipeline.definitions", "loadStatus": "LOADED"},
            {"name": "listory_pipeline.reports_definitions", "loadStatus": "LOADED"},
        ]
        ui.send_signal(stop_signal)
        assert ui.wait(timeout=90) == 0
        time.sleep(0.5)
        assert [pid for pid in started if _alive(pid)] == []
    finally:
        if ui.poll() is None:
            ui.kill()
        for pid in _descendants(ui.pid):
            os.kill(pid, signal.SIGKILL)
