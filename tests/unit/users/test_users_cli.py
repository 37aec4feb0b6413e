"""`listory users ...` through `cli.main`, on a LISTORY_HOME in tmp_path (no Spotify needed)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from listory_pipeline import runtime
from listory_pipeline.cli import main
from listory_pipeline.settings import load_settings

TOKEN = "AQD-a-refresh-token-from-a-headless-server-0123456789"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LISTORY_SECRET_KEY", "LISTORY_SIMULATOR_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LISTORY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LISTORY_DEFAULT_TIMEZONE", "Europe/Berlin")
    return load_settings()


@pytest.fixture
def registry(settings):
    return runtime.user_registry(settings)


def _stdin(monkeypatch, text: str, tty: bool = False) -> None:
    class Stdin(io.StringIO):
        def isatty(self) -> bool:
            return tty

    monkeypatch.setattr("sys.stdin", Stdin(text))


def test_users_add_reads_the_token_from_stdin(settings, registry, monkeypatch, capsys):
    _stdin(monkeypatch, TOKEN + "\n")
    assert main(["users", "add", "alice", "--display-name", "Alice"]) == 0
    out = capsys.readouterr().out
    assert "registered alice" in out and TOKEN not in out
    user = registry.get("alice")
    assert (user.status, user.timezone, user.has_own_app) == ("active", "Europe/Berlin", False)
    assert registry.refresh_token("alice") == TOKEN


def test_users_add_with_the_flag_form_reads_stdin(settings, registry, monkeypatch, capsys):
    _stdin(monkeypatch, TOKEN + "\n")
    assert main(["users", "add", "alice", "--refresh-token", "--timezone", "Asia/Tokyo"]) == 0
    assert registry.refresh_token("alice") == TOKEN
    assert registry.get("alice").timezone == "Asia/Tokyo"


def test_users_add_reads_token_and_app_secret_from_files(settings, registry, tmp_path, capsys):
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("my-app-secret\n")
    code = main([
        "users", "add", "bob", "--refresh-token-file", str(token_file),
        "--client-id", "bobs-app", "--client-secret-file", str(secret_file),
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "own Spotify app" in out and "my-app-secret" not in out
    assert registry.user_app("bob") == ("bobs-app", "my-app-secret")


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "add", "alice", "--refresh-token", TOKEN],
        ["users", "add", "alice", f"--refresh-token={TOKEN}"],
    ],
)
def test_users_add_never_accepts_the_token_on_argv(settings, registry, monkeypatch, capsys, argv):
    _stdin(monkeypatch, "")
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert "refusing a refresh token on the command line" in captured.err
    assert TOKEN not in captured.out + captured.err
    assert registry.list() == []


def test_users_add_options_cannot_be_abbreviated(settings, registry, monkeypatch, capsys):
    # `--refresh-token-f TOKEN` must not become --refresh-token-file and echo the "path".
    _stdin(monkeypatch, "")
    with pytest.raises(SystemExit):
        main(["users", "add", "alice", "--refresh-token-f", TOKEN])
    assert registry.list() == []


def test_users_add_with_empty_stdin_registers_nothing(settings, registry, monkeypatch, capsys):
    _stdin(monkeypatch, "")
    assert main(["users", "add", "alice"]) == 2
    assert "no refresh token given" in capsys.readouterr().err
    assert registry.list() == []


def test_users_list_shows_token_expiry_and_warns(settings, registry, capsys):
    now = datetime.now(timezone.utc)
    registry.register("newbie", TOKEN, display_name="Newbie", now=now - timedelta(days=10))
    registry.register("soon", TOKEN, now=now - timedelta(days=175))
    registry.register("gone", TOKEN, now=now - timedelta(days=200), app_client_id="own-app")
    registry.register("paused", TOKEN, now=now - timedelta(days=200))
    registry.set_status("paused", "disabled", reason="on holiday")

    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    for column in ("user", "name", "status", "time zone", "token issued", "token", "own app", "reason"):
        assert column in header
    lines = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in {"newbie", "soon", "gone", "paused"}}
    assert " ok " in lines["newbie"] + " " and " no" in lines["newbie"]
    assert "expiring in 7 days" in lines["soon"]
    assert "expired 18 days ago" in lines["gone"] and "yes" in lines["gone"]
    assert "on holiday" in lines["paused"]
    warning = next(line for line in out.splitlines() if line.startswith("warning:"))
    assert "soon (expiring in 7 days)" in warning and "gone (expired 18 days ago)" in warning
    assert "newbie" not in warning and "paused" not in warning  # disabled users are not crawled anyway
    assert "listory login" in warning


def test_users_list_when_empty(settings, capsys):
    assert main(["users", "list"]) == 0
    assert "no users registered" in capsys.readouterr().out


def test_disable_enable_and_set_timezone(settings, registry, capsys):
    registry.register("carol", TOKEN)
    assert main(["users", "disable", "carol", "--reason", "asked to pause"]) == 0
    assert (registry.get("carol").status, registry.get("carol").status_reason) == ("disabled", "asked to pause")
    assert main(["users", "enable", "carol"]) == 0
    assert (registry.get("carol").status, registry.get("carol").status_reason) == ("active", None)
    assert main(["users", "set-timezone", "carol", "America/Sao_Paulo"]) == 0
    assert registry.get("carol").timezone == "America/Sao_Paulo"
    out = capsys.readouterr().out
    assert "disabled carol" in out and "enabled carol" in out and "America/Sao_Paulo" in out


def test_set_timezone_rejects_a_non_iana_name(settings, registry, capsys):
    registry.register("carol", TOKEN)
    assert main(["users", "set-timezone", "carol", "CEST"]) == 1
    assert "IANA" in capsys.readouterr().err
    assert registry.get("carol").timezone == "UTC"


def test_enable_refuses_a_revoked_user(settings, registry, capsys):
    registry.register("dave", TOKEN)
    registry.set_status("dave", "revoked", reason="invalid_grant")
    assert main(["users", "enable", "dave"]) == 1
    assert "listory login" in capsys.readouterr().err
    assert registry.get("dave").status == "revoked"


@pytest.mark.parametrize("argv", [["users", "disable", "nobody"], ["users", "enable", "nobody"],
                                  ["users", "set-timezone", "nobody", "UTC"], ["users", "remove", "nobody", "--keep-data"]])
def test_unknown_users_get_a_message_not_a_traceback(settings, argv, capsys):
    assert main(argv) == 2
    assert "no registered user 'nobody'" in capsys.readouterr().err


def test_remove_without_a_choice_is_refused_when_not_a_tty(settings, registry, monkeypatch, capsys):
    registry.register("erin", TOKEN)
    _stdin(monkeypatch, "")
    assert main(["users", "remove", "erin"]) == 2
    assert "--keep-data" in capsys.readouterr().err
    assert registry.find("erin") is not None


@pytest.mark.parametrize(("answer", "removed"), [("k\n", True), ("keep\n", True), ("\n", False), ("", False)])
def test_remove_asks_on_a_tty(settings, registry, monkeypatch, capsys, answer, removed):
    registry.register("erin", TOKEN)
    _stdin(monkeypatch, answer, tty=True)
    code = main(["users", "remove", "erin"])
    out = capsys.readouterr().out
    assert "[k]eep or [d]elete" in out
    assert (registry.find("erin") is None) == removed
    assert code == (0 if removed else 1)


def test_remove_keep_data_forgets_the_secrets(settings, registry, capsys):
    from listory_pipeline.spotify.auth import AccessToken
    from listory_pipeline.users.token_cache import EncryptedTokenCache

    registry.register("erin", TOKEN)
    cache = EncryptedTokenCache(settings.token_cache_path, runtime.secret_box(settings))
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    cache.put("user:some-app:erin", AccessToken("access", later))
    cache.put("user:some-app:erin2", AccessToken("other", later))
    assert main(["users", "remove", "erin", "--keep-data"]) == 0
    assert "their listens and landed pulls stay" in capsys.readouterr().out
    assert registry.find("erin") is None
    assert cache.get("user:some-app:erin") is None
    assert cache.get("user:some-app:erin2") is not None
