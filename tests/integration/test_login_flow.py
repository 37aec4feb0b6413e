"""`listory login` end to end: the simulator's /authorize and /api/token over HTTP, a real loopback server.

A fake browser (httpx) does the browser's part: it opens the authorize URL, follows the
simulator's 302 to http://127.0.0.1:PORT/callback and records the page it gets back.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from listory_pipeline import runtime
from listory_pipeline.spotify.errors import AuthRevokedError
from listory_pipeline.users import login
from listory_pipeline.users.login import LoginError, run_login

TIMEOUT = 30.0


class FakeBrowser:
    """Calls itself with the authorize URL; `tamper` may rewrite the redirect before following it."""

    def __init__(self, sim_user: str | None = None, tamper=None) -> None:
        self.sim_user = sim_user
        self.tamper = tamper
        self.pages: list[httpx.Response] = []
        self.done = threading.Event()
        self.authorize_url: str | None = None

    def __call__(self, url: str) -> None:
        self.authorize_url = url
        if self.sim_user:
            url += "&" + urlencode({"sim_user": self.sim_user})
        try:
            with httpx.Client(timeout=TIMEOUT) as http:
                if self.tamper is None:
                    self.pages.append(http.get(url, follow_redirects=True))
                else:
                    redirect = http.get(url)
                    assert redirect.status_code == 302, redirect.text
                    self.pages.append(http.get(self.tamper(redirect.headers["location"])))
        finally:
            self.done.set()

    @property
    def page(self) -> httpx.Response:
        assert self.done.wait(TIMEOUT), "the browser never got a page"
        return self.pages[-1]


def _with_query(location: str, **changes: str | None) -> str:
    parts = urlsplit(location)
    query = dict(parse_qsl(parts.query))
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def _login(home, browser, **kwargs):
    lines: list[str] = []
    app = kwargs.pop("app", None) or runtime.spotify_app(home.settings)
    result = run_login(home.settings, app, 0, browser, TIMEOUT, echo=lines.append, **kwargs)
    return result, lines


def _refresh_works(home, user_id: str) -> None:
    with home.client() as client:
        token = client.credentials.refresh_user_token(user_id, home.registry.refresh_token(user_id))
    assert token.value


def test_login_registers_a_new_user_with_a_working_refresh_token(listory_home):
    browser = FakeBrowser()
    result, lines = _login(listory_home, browser)

    user = listory_home.registry.get("sim-alice")  # the simulator approves as its first user by default
    assert result.is_new and result.user == user
    assert (user.status, user.display_name, user.timezone) == ("active", "Alice", "UTC")
    assert not user.has_own_app
    assert user.refresh_token_issued_at is not None
    _refresh_works(listory_home, "sim-alice")

    # The redirect went to the loopback IP literal, with PKCE and a state.
    query = dict(parse_qsl(urlsplit(browser.authorize_url).query))
    redirect = urlsplit(query["redirect_uri"])
    assert (redirect.scheme, redirect.hostname, redirect.path) == ("http", "127.0.0.1", "/callback")
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["state"]
    assert query["scope"] == "user-read-recently-played user-read-private"
    assert any(browser.authorize_url in line for line in lines)  # the URL is printed

    page = browser.page
    assert page.status_code == 200 and "Logged in" in page.text and "sim-alice" in page.text
    secret = listory_home.registry.refresh_token("sim-alice")
    assert secret not in page.text and not any(secret in line for line in lines)


def test_login_as_another_user_with_a_time_zone(listory_home):
    result, _ = _login(listory_home, FakeBrowser(sim_user="sim-bruno"), timezone_name="Europe/Berlin")
    assert (result.user.user_id, result.user.display_name, result.user.timezone) == ("sim-bruno", "Bruno", "Europe/Berlin")
    _refresh_works(listory_home, "sim-bruno")


@pytest.mark.parametrize("state", ["forged-state", None], ids=["wrong-state", "missing-state"])
def test_a_wrong_or_missing_state_is_refused_and_nothing_registered(listory_home, state):
    browser = FakeBrowser(tamper=lambda location: _with_query(location, state=state))
    with pytest.raises(LoginError, match="1 request.* wrong or missing `state` were refused"):
        run_login(listory_home.settings, runtime.spotify_app(listory_home.settings), 0, browser, 2.0, echo=lambda s: None)
    page = browser.page
    assert page.status_code == 400 and "Not this login" in page.text and "state" in page.text
    assert listory_home.registry.list() == []
    assert listory_home.simulator.stats()["by_endpoint"].get("token", 0) == 0  # the code was never exchanged


def test_a_stray_callback_does_not_abort_the_pending_login(listory_home):
    """Any local program can reach the port: a request with a wrong state is refused, the login goes on."""
    stray: list[int] = []

    def browser(url: str) -> None:
        callback = dict(parse_qsl(urlsplit(url).query))["redirect_uri"]
        stray.append(httpx.get(f"{callback}?code=x&state=guess", timeout=TIMEOUT).status_code)
        FakeBrowser()(url)

    result = run_login(listory_home.settings, runtime.spotify_app(listory_home.settings), 0, browser, TIMEOUT, echo=lambda s: None)
    assert stray == [400]
    assert result.user.user_id == "sim-alice"


def test_a_denied_authorization_is_reported(listory_home):
    browser = FakeBrowser(tamper=lambda location: _with_query(location, code=None, error="access_denied"))
    with pytest.raises(LoginError, match="access_denied"):
        _login(listory_home, browser)
    assert browser.page.status_code == 400
    assert listory_home.registry.list() == []


def test_a_revoked_user_logs_in_again_and_crawling_resumes(listory_home):
    home = listory_home
    home.register("sim-chiara")
    home.registry.set_status("sim-chiara", "revoked", reason="Spotify answered invalid_grant on refresh")
    home.simulator.revoke("sim-chiara")
    with home.client() as client, pytest.raises(AuthRevokedError):
        client.credentials.refresh_user_token("sim-chiara", home.registry.refresh_token("sim-chiara"))

    result, _ = _login(home, FakeBrowser(sim_user="sim-chiara"))

    assert result.previous_status == "revoked" and "re-activated" in result.describe()
    user = home.registry.get("sim-chiara")
    assert (user.status, user.status_reason) == ("active", None)
    _refresh_works(home, "sim-chiara")
    crawled = home.crawl("sim-chiara", enrich=False)  # nothing else to do: the next crawl just works
    assert crawled.plays_in_pull > 0 and crawled.load.new_listens > 0


def test_login_with_the_users_own_app_stores_it(listory_home):
    config = listory_home.simulator.config
    app = login.with_user_app(runtime.spotify_app(listory_home.settings), config.client_id, config.client_secret)
    result, _ = _login(listory_home, FakeBrowser(sim_user="sim-dmitri"), app=app, own_app=True)
    assert result.user.has_own_app
    assert listory_home.registry.user_app("sim-dmitri") == (config.client_id, config.client_secret)
    assert login.app_for_user(runtime.spotify_app(listory_home.settings), listory_home.registry, "sim-dmitri") == app


def test_no_redirect_times_out_with_nothing_registered(listory_home):
    with pytest.raises(LoginError, match="no redirect reached http://127.0.0.1:"):
        run_login(listory_home.settings, runtime.spotify_app(listory_home.settings), 0, lambda url: None, 0.3, echo=lambda s: None)
    assert listory_home.registry.list() == []


def test_a_busy_port_is_a_clear_error(listory_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LoginError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            run_login(listory_home.settings, runtime.spotify_app(listory_home.settings), port, lambda url: None, 1, echo=lambda s: None)


def test_an_unknown_time_zone_fails_before_anything_starts(listory_home):
    with pytest.raises(ValueError, match="IANA"):
        _login(listory_home, FakeBrowser(), timezone_name="Mars/Olympus")


def test_other_paths_get_404_while_the_login_waits(listory_home):
    received: list[httpx.Response] = []
    done = threading.Event()

    def browser(url: str) -> None:
        with httpx.Client(timeout=TIMEOUT) as http:
            redirect = http.get(url).headers["location"]
            received.append(http.get(redirect.split("/callback")[0] + "/favicon.ico"))
            received.append(http.get(redirect))
        done.set()

    run_login(listory_home.settings, runtime.spotify_app(listory_home.settings), 0, browser, TIMEOUT, echo=lambda s: None)
    assert done.wait(TIMEOUT)
    assert [r.status_code for r in received] == [404, 200]


def test_the_receiver_takes_only_the_first_callback():
    with login.LoopbackReceiver(0) as receiver:
        first = receiver.offer({"code": "a", "state": "s"})
        assert first is not None and receiver.offer({"code": "b", "state": "s"}) is None
        assert receiver.wait(1).params == {"code": "a", "state": "s"}
        assert receiver.redirect_uri == f"http://127.0.0.1:{receiver.port}/callback"
