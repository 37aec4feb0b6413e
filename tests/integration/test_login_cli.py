"""`listory login` and `listory users remove` through `cli.main`, against the simulator over HTTP
and a real DuckDB warehouse and landing zone."""

from __future__ import annotations

import pytest

from listory_pipeline.cli import main
from listory_pipeline.users import login

from tests.integration.test_login_flow import FakeBrowser
from tests.support.ports import free_port


@pytest.fixture
def cli_env(listory_home, monkeypatch):
    """The process environment the CLI reads, pointing at the same home and simulator."""
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LISTORY_SECRET_KEY", "LISTORY_DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LISTORY_HOME", str(listory_home.settings.home))
    monkeypatch.setenv("LISTORY_SIMULATOR_URL", listory_home.server.base_url)
    return listory_home


def _use_browser(monkeypatch, browser: FakeBrowser) -> None:
    monkeypatch.setattr(login, "browser_available", lambda: True)
    monkeypatch.setattr(login, "open_system_browser", browser)


def test_cli_login_registers_the_user_and_prints_no_token(cli_env, monkeypatch, capsys):
    browser = FakeBrowser(sim_user="sim-emeka")
    _use_browser(monkeypatch, browser)
    port = free_port()
    assert main(["login", "--port", str(port), "--timezone", "Africa/Lagos", "--timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback" in out
    assert "sim-emeka (Emeka): registered; status active, time zone Africa/Lagos" in out
    user = cli_env.registry.get("sim-emeka")
    assert (user.status, user.timezone) == ("active", "Africa/Lagos")
    assert cli_env.registry.refresh_token("sim-emeka") not in out
    assert browser.page.status_code == 200


def test_cli_login_with_a_per_user_app(cli_env, monkeypatch, tmp_path, capsys):
    config = cli_env.simulator.config
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(config.client_secret + "\n")
    _use_browser(monkeypatch, FakeBrowser(sim_user="sim-bruno"))
    code = main([
        "login", "--port", str(free_port()), "--timeout", "30",
        "--client-id", config.client_id, "--client-secret-file", str(secret_file),
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "using their own Spotify app" in out and config.client_secret not in out
    assert cli_env.registry.user_app("sim-bruno") == (config.client_id, config.client_secret)


def test_cli_login_no_browser_times_out_cleanly(cli_env, monkeypatch, capsys):
    opened = []
    monkeypatch.setattr(login, "open_system_browser", opened.append)
    assert main(["login", "--port", str(free_port()), "--no-browser", "--timeout", "0.5"]) == 1
    captured = capsys.readouterr()
    assert "No browser is opened here" in captured.out and "ssh -L" in captured.out
    assert "login failed: no redirect reached" in captured.err
    assert opened == []


def test_cli_login_rejects_a_wrong_state(cli_env, monkeypatch, capsys):
    browser = FakeBrowser(tamper=lambda location: location.replace("state=", "state=x"))
    _use_browser(monkeypatch, browser)
    assert main(["login", "--port", str(free_port()), "--timeout", "30"]) == 1
    assert "wrong or missing `state`" in capsys.readouterr().err
    assert browser.page.status_code == 400
    assert cli_env.registry.list() == []


def _counts(home, user_id: str) -> dict[str, int]:
    tables = {
        "listens": "core.listens",
        "users": "core.users",
        "loaded_pulls": "meta.loaded_pulls",
        "watermarks": "meta.landing_watermarks",
    }
    return {
        name: home.query(f"select count(*) from {table} where user_id = ?", [user_id])[0][0]
        for name, table in tables.items()
    }


def test_remove_delete_data_deletes_warehouse_rows_and_landed_pulls(cli_env, capsys):
    home = cli_env
    for user_id in ("sim-alice", "sim-bruno"):
        home.register(user_id)
        home.crawl(user_id, enrich=False)
    before = _counts(home, "sim-alice")
    assert before["listens"] > 0 and before["users"] == 1 and before["loaded_pulls"] == 1
    assert list(home.landing.pulls("sim-alice"))
    bruno_before = _counts(home, "sim-bruno")
    tracks_before = home.query("select count(*) from core.tracks")[0][0]

    assert main(["users", "remove", "sim-alice", "--delete-data"]) == 0
    out = capsys.readouterr().out
    assert f"{before['listens']} listens, 1 load records, 1 landed pulls" in out

    assert _counts(home, "sim-alice") == {"listens": 0, "users": 0, "loaded_pulls": 0, "watermarks": 0}
    assert list(home.landing.pulls("sim-alice")) == []
    assert home.registry.find("sim-alice") is None
    assert _counts(home, "sim-bruno") == bruno_before  # other users untouched
    assert list(home.landing.pulls("sim-bruno"))
    assert home.query("select count(*) from core.tracks")[0][0] == tracks_before  # the shared catalog stays


def test_remove_keep_data_leaves_the_warehouse_and_landing_zone(cli_env, capsys):
    home = cli_env
    home.register("sim-chiara")
    home.crawl("sim-chiara", enrich=False)
    before = _counts(home, "sim-chiara")

    assert main(["users", "remove", "sim-chiara", "--keep-data"]) == 0
    assert home.registry.find("sim-chiara") is None
    assert _counts(home, "sim-chiara") == before
    assert list(home.landing.pulls("sim-chiara"))

    # Data a --keep-data removal left behind can still be deleted later.
    assert main(["users", "remove", "sim-chiara", "--delete-data"]) == 0
    assert "was not in the registry" in capsys.readouterr().out
    assert _counts(home, "sim-chiara")["listens"] == 0
    assert list(home.landing.pulls("sim-chiara")) == []


def test_disable_and_set_timezone_are_mirrored_to_core_users(cli_env):
    home = cli_env
    home.register("sim-dmitri")
    home.crawl("sim-dmitri", enrich=False)
    assert main(["users", "disable", "sim-dmitri"]) == 0
    assert main(["users", "set-timezone", "sim-dmitri", "Europe/Paris"]) == 0
    assert home.query("select status, timezone from core.users where user_id = 'sim-dmitri'") == [("disabled", "Europe/Paris")]
