"""Several processes and threads writing the registry at once: no lost update, no "database is locked".

Sensors, runs and the CLI are separate processes that open the same SQLite file. The
workers start together on a file that does not exist yet, so the WAL switch and the
schema migration race as well.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from pathlib import Path

from cryptography.fernet import Fernet

from listory_pipeline.users.crypto import SecretBox
from listory_pipeline.users.registry import UserRegistry

ROUNDS = 30
TIME_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")


def _work(path: str, key: bytes, worker: int, barrier, errors) -> None:
    """One writer: its own user, a user shared by all, and one column of a user shared by two."""
    try:
        barrier.wait(timeout=60)
        registry = UserRegistry(Path(path), SecretBox(key))
        registry.register(f"user-{worker}", f"token-{worker}-start", timezone_name="UTC")
        registry.register("shared", f"shared-token-{worker}")
        registry.register("pair", "pair-token-start")
        barrier.wait(timeout=60)  # every registration is in before the updates race
        for i in range(ROUNDS):
            registry.save_refresh_token(f"user-{worker}", f"token-{worker}-{i}")
            registry.set_user_app(f"user-{worker}", f"client-{worker}", f"secret-{worker}-{i}")
            registry.set_timezone(f"user-{worker}", TIME_ZONES[i % len(TIME_ZONES)])
            registry.set_status("shared", "active" if i % 2 else "disabled", reason=f"w{worker}")
            registry.save_refresh_token("shared", f"shared-token-{worker}-{i}")
            registry.list()
            # Two workers write different columns of one row: neither may undo the other.
            if worker == 0:
                registry.save_refresh_token("pair", f"pair-token-{i}")
            elif worker == 1:
                registry.set_timezone("pair", TIME_ZONES[i % len(TIME_ZONES)])
    except BaseException:
        errors.put(f"worker {worker}: {traceback.format_exc()}")


def _check(path: Path, key: bytes, workers: int) -> None:
    registry = UserRegistry(path, SecretBox(key))
    users = {u.user_id: u for u in registry.list()}
    assert set(users) == {f"user-{w}" for w in range(workers)} | {"shared", "pair"}
    last = ROUNDS - 1
    for w in range(workers):
        user = users[f"user-{w}"]
        assert registry.refresh_token(user.user_id) == f"token-{w}-{last}"
        assert registry.user_app(user.user_id) == (f"client-{w}", f"secret-{w}-{last}")
        assert user.timezone == TIME_ZONES[last % len(TIME_ZONES)]
    assert registry.refresh_token("shared") in {f"shared-token-{w}-{last}" for w in range(workers)}
    assert registry.refresh_token("pair") == f"pair-token-{last}"
    assert users["pair"].timezone == TIME_ZONES[last % len(TIME_ZONES)]


def test_concurrent_processes_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    workers = 6
    path = tmp_path / "home" / "registry.sqlite"
    key = Fernet.generate_key()
    barrier = ctx.Barrier(workers)
    errors = ctx.Queue()
    processes = [ctx.Process(target=_work, args=(str(path), key, w, barrier, errors)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures, "\n".join(failures)
    assert [p.exitcode for p in processes] == [0] * workers
    _check(path, key, workers)


class _ListQueue:
    def __init__(self) -> None:
        self.items: list[str] = []
        self._lock = threading.Lock()

    def put(self, item: str) -> None:
        with self._lock:
            self.items.append(item)


def test_concurrent_threads_lose_nothing(tmp_path):
    workers = 8
    path = tmp_path / "registry.sqlite"
    key = Fernet.generate_key()
    barrier = threading.Barrier(workers)
    errors = _ListQueue()
    threads = [threading.Thread(target=_work, args=(str(path), key, w, barrier, errors)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors.items, "\n".join(errors.items)
    _check(path, key, workers)
