"""The `listory login` and `listory users …` commands; `cli.py` adds them with `add_user_commands(sub)`.

Tokens and secrets are read from files or stdin, never from argv (where `ps` and
shell history would see them), and never printed.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from listory_pipeline.cli_arguments import port_number
from listory_pipeline.settings import load_settings
from listory_pipeline.texttable import format_table


class _UserCommandError(Exception):
    """A users/login command cannot go on; the message is for the person at the terminal."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _user_command(func):
    """Registry, key and login problems end users/login commands with a message, not a traceback."""
    import functools

    @functools.wraps(func)
    def run(args) -> int:
        from listory_pipeline.users.crypto import SecretKeyError
        from listory_pipeline.users.login import LoginError
        from listory_pipeline.users.registry import RegistrySchemaError, UnknownUserError
        from listory_pipeline.warehouse.connection import WarehouseLockedError

        try:
            return func(args)
        except _UserCommandError as exc:
            print(str(exc), file=sys.stderr)
            return exc.code
        except UnknownUserError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        except LoginError as exc:
            print(f"login failed: {exc}", file=sys.stderr)
            return 1
        except (SecretKeyError, RegistrySchemaError, WarehouseLockedError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 1

    return run


def _gaps(history, user_id: str) -> str | None:
    """'2 open, 1 filled': gaps the crawl saw, and how many an imported export has filled."""
    if history is None or user_id not in history:
        return None
    state = history[user_id]
    if not state.open_gaps and not state.filled_gaps:
        return "none"
    return f"{state.open_gaps} open, {state.filled_gaps} filled"


@_user_command
def cmd_users_list(args) -> int:
    from datetime import datetime, timezone

    from listory_pipeline import runtime
    from listory_pipeline.users.registry import token_expiry_status
    from listory_pipeline.warehouse.summary import history_per_user

    users = runtime.user_registry(load_settings()).list()
    if not users:
        print("no users registered: `listory login` (or `listory users add`) adds one")
        return 0
    now = datetime.now(timezone.utc)
    expiries = {u.user_id: token_expiry_status(u, now) for u in users}
    settings = load_settings()
    from listory_pipeline.publication.readers import prepare_read_copy
    from listory_pipeline.warehouse.connection import WarehouseLockedError

    try:
        copy = prepare_read_copy(settings)
    except WarehouseLockedError:  # no read copy yet and the pipeline is writing: the registry still answers
        copy, busy = None, True
    else:
        busy = False
    history = history_per_user(copy) if copy is not None else None
    print(
        format_table(
            ["user", "name", "status", "time zone", "token issued", "token", "own app", "gaps", "imports", "reason"],
            [
                (
                    u.user_id,
                    u.display_name,
                    u.status,
                    u.timezone,
                    (u.refresh_token_issued_at or "")[:10] or None,
                    expiries[u.user_id].describe(),
                    "yes" if u.has_own_app else "no",
                    _gaps(history, u.user_id),
                    history[u.user_id].imports if history and u.user_id in history else None,
                    u.status_reason,
                )
                for u in users
            ],
        )
    )
    if history is None and copy is not None:
        print("(gaps and imports unknown: the read copy is from before history imports; it is republished after the next load)")
    if busy:
        print("(gaps and imports unknown: the warehouse is busy and has no read copy yet; it is published after the next load)")
    open_gaps = [u.user_id for u in users if history and u.user_id in history and history[u.user_id].open_gaps]
    if open_gaps:
        print(
            f"\npossible gaps (plays may be missing) for: {', '.join(open_gaps)}. Importing their Spotify export "
            "(`listory import-history`) fills them."
        )
    due = [u for u in users if u.status != "disabled" and expiries[u.user_id].status in ("expiring", "expired")]
    if due:
        listed = ", ".join(f"{u.user_id} ({expiries[u.user_id].describe()})" for u in due)
        print(
            f"\nwarning: refresh tokens expiring or expired: {listed}. "
            "Run `listory login` for each before crawling stops (Spotify refresh tokens last about six months)."
        )
    revoked = [u.user_id for u in users if u.status == "revoked"]
    if revoked:
        print(f"\nrevoked (not crawled until they log in again with `listory login`): {', '.join(revoked)}")
    return 0


def _read_secret(source: str | None, prompt: str) -> str:
    """Secrets come from a file or stdin, never from argv (where `ps` and shell history see them)."""
    if source and source != "-":
        try:
            return Path(source).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _UserCommandError(f"cannot read {source}: {exc.strerror or exc}") from None
    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    return sys.stdin.readline().strip()


def _app_secret(args) -> str | None:
    """A per-user app's client secret, from --client-secret-file only."""
    if args.client_secret_file and not args.client_id:
        raise _UserCommandError("--client-secret-file needs --client-id (the user's own Spotify app)")
    if not args.client_id or not args.client_secret_file:
        return None
    secret = _read_secret(args.client_secret_file, "Client secret: ")
    if not secret:
        raise _UserCommandError(f"{args.client_secret_file} is empty")
    return secret


@_user_command
def cmd_users_add(args) -> int:
    from listory_pipeline import runtime

    if args.refresh_token not in (None, "-"):
        # Never echo the value: it is (probably) the token itself.
        raise _UserCommandError(
            "refusing a refresh token on the command line (`ps` and shell history would keep it): "
            "pipe it on stdin (`--refresh-token < token.txt`) or use --refresh-token-file FILE"
        )
    settings = load_settings()
    app_secret = _app_secret(args)
    source = args.refresh_token_file or "-"
    token = _read_secret(source, "Refresh token: ")
    if not token:
        raise _UserCommandError("no refresh token given (empty stdin or file); nothing was registered")
    registry = runtime.user_registry(settings)
    previous = registry.find(args.user_id)
    user = registry.register(
        args.user_id,
        token,
        display_name=args.display_name,
        timezone_name=args.timezone or settings.default_timezone,
        app_client_id=args.client_id,
        app_client_secret=app_secret,
    )
    if previous is not None and args.timezone and previous.timezone != args.timezone:
        user = registry.set_timezone(args.user_id, args.timezone)
    what = "registered" if previous is None else f"updated (was {previous.status})"
    app = "own Spotify app" if user.has_own_app else "this instance's Spotify app"
    print(
        f"{what} {user.user_id} ({user.status}, {user.timezone}, {app}); "
        "the new-users sensor crawls them within seconds"
    )
    return 0


@_user_command
def cmd_login(args) -> int:
    from listory_pipeline import runtime
    from listory_pipeline.users import login

    settings = load_settings()
    app = runtime.spotify_app(settings)
    own_app = bool(args.client_id)
    if own_app:
        app = login.with_user_app(app, args.client_id, _app_secret(args))
    elif args.client_secret_file:
        raise _UserCommandError("--client-secret-file needs --client-id (the user's own Spotify app)")
    use_browser = not args.no_browser and login.browser_available()
    if settings.uses_simulator:
        print(
            "Spotify: the built-in simulator; it approves at once as its first listener "
            "(add &sim_user=<id> to the URL for another)."
        )
    if not use_browser:
        print(
            f"No browser is opened here. Open the URL on any machine; if that is not this one, forward "
            f"the port first: ssh -L {args.port}:127.0.0.1:{args.port} <this host>"
        )

    def open_browser(url: str) -> None:
        if use_browser:
            login.open_system_browser(url)

    try:
        result = login.run_login(
            settings,
            app,
            args.port,
            open_browser,
            args.timeout,
            timezone_name=args.timezone,
            own_app=own_app,
        )
    except KeyboardInterrupt:
        print("\nlogin cancelled; nothing was registered", file=sys.stderr)
        return 130
    print(result.describe())
    print("The new-users sensor (or `listory crawl`) crawls them within seconds.")
    return 0


def _mirror_to_warehouse(settings, user) -> None:
    """Best effort: core.users shows the change now, not only at the user's next crawl."""
    from listory_pipeline.warehouse.connection import WarehouseLockedError
    from listory_pipeline.warehouse.loader import UserRow
    from listory_pipeline.warehouse.user_data import mirror_user

    try:
        mirror_user(
            settings.warehouse_path,
            UserRow(user.user_id, user.display_name, user.timezone, user.status),
            wait_seconds=min(5.0, settings.warehouse_lock_wait_seconds),
        )
    except WarehouseLockedError:
        print("(the warehouse is busy; core.users shows the change after the next load)", file=sys.stderr)


@_user_command
def cmd_users_disable(args) -> int:
    from listory_pipeline import runtime

    settings = load_settings()
    user = runtime.user_registry(settings).set_status(args.user_id, "disabled", reason=args.reason or "disabled by an operator")
    _mirror_to_warehouse(settings, user)
    print(f"disabled {user.user_id}: not crawled until `listory users enable {user.user_id}`; stored data stays")
    return 0


@_user_command
def cmd_users_enable(args) -> int:
    from listory_pipeline import runtime

    settings = load_settings()
    registry = runtime.user_registry(settings)
    current = registry.get(args.user_id)
    if current.status == "revoked":
        raise _UserCommandError(
            f"{current.user_id} revoked access to Spotify: their token no longer works, so enabling cannot help. "
            "They run `listory login` again, which restores `active`.",
            code=1,
        )
    user = registry.set_status(args.user_id, "active")
    _mirror_to_warehouse(settings, user)
    print(f"enabled {user.user_id}: crawled again from the next schedule tick")
    return 0


@_user_command
def cmd_users_set_timezone(args) -> int:
    from listory_pipeline import runtime

    settings = load_settings()
    user = runtime.user_registry(settings).set_timezone(args.user_id, args.timezone)
    _mirror_to_warehouse(settings, user)
    print(f"{user.user_id}: time zone {user.timezone}; reports use it from their next build")
    return 0


def _ask_keep_or_delete(user_id: str) -> bool | None:
    """True: delete the data; False: keep it; None: the person backed out."""
    prompt = (
        f"Remove {user_id}. Their listens in the warehouse and raw pulls in the landing zone: "
        "[k]eep or [d]elete? (anything else cancels) "
    )
    try:
        answer = input(prompt).strip().lower()
    except EOFError:
        return None
    if answer in ("d", "delete"):
        return True
    if answer in ("k", "keep"):
        return False
    return None


@_user_command
def cmd_users_remove(args) -> int:
    from listory_pipeline import runtime
    from listory_pipeline.users.registry import UnknownUserError
    from listory_pipeline.users.token_cache import EncryptedTokenCache
    from listory_pipeline.warehouse.user_data import remove_user_rows

    settings = load_settings()
    registry = runtime.user_registry(settings)
    user = registry.find(args.user_id)
    if user is None and args.delete_data is not True:
        raise UnknownUserError(args.user_id)  # data left by a --keep-data removal goes with --delete-data
    if args.delete_data is None:
        if not sys.stdin.isatty():
            raise _UserCommandError(
                f"say what happens to {args.user_id}'s data: `listory users remove {args.user_id} --keep-data` "
                "(only the registry entry goes) or `--delete-data` (listens, load records and landed pulls go too)"
            )
        choice = _ask_keep_or_delete(args.user_id)
        if choice is None:
            print("cancelled; nothing was removed")
            return 1
        delete_data = choice
    else:
        delete_data = args.delete_data

    if delete_data:
        # The warehouse first: if it is locked, nothing else has changed and the command can be repeated.
        removed = remove_user_rows(settings.warehouse_path, args.user_id, wait_seconds=settings.warehouse_lock_wait_seconds)
        pulls = runtime.landing_zone(settings).remove_user(args.user_id)
        imports = runtime.history_landing(settings).remove_user(args.user_id)
        print(
            f"deleted {args.user_id}'s data: {removed.by_table['core.listens']} listens, "
            f"{removed.by_table['meta.loaded_pulls']} load records, {pulls} landed pulls, "
            f"{removed.by_table['core.skipped_plays']} skipped plays, {imports} landed history imports "
            "(shared catalog rows stay)"
        )
    if user is not None:
        registry.remove(args.user_id)
        EncryptedTokenCache(settings.token_cache_path, runtime.secret_box(settings)).delete_user(args.user_id)
        kept = "" if delete_data else "; their listens and landed pulls stay"
        print(f"removed {args.user_id} from the registry (refresh token deleted){kept}")
    else:
        print(f"{args.user_id} was not in the registry")
    return 0


def add_user_commands(sub) -> None:
    login = sub.add_parser(
        "login",
        help="register a Spotify user through the browser (Authorization Code with PKCE, 127.0.0.1 redirect)",
        allow_abbrev=False,
    )
    login.add_argument("--port", type=port_number, default=8888, help="loopback port of http://127.0.0.1:PORT/callback (default 8888)")
    login.add_argument("--timezone", help="IANA time zone of the user (default LISTORY_DEFAULT_TIMEZONE or UTC)")
    login.add_argument("--no-browser", action="store_true", help="only print the URL; never open a browser")
    login.add_argument("--client-id", help="the user's own Spotify app (default: this instance's app)")
    login.add_argument("--client-secret-file", metavar="FILE", help="that app's client secret, read from FILE")
    login.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the redirect (default 300)")
    login.set_defaults(func=cmd_login, writes_warehouse=True)

    users = sub.add_parser("users", help="the user registry")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    users_list = users_sub.add_parser("list", help="registered users, their status and refresh-token expiry")
    users_list.set_defaults(func=cmd_users_list)
    # allow_abbrev=False: `--refresh-token-f` must not silently mean --refresh-token-file, and no prefix
    # of an option may take a token's place.
    users_add = users_sub.add_parser(
        "add", help="register a user from a refresh token (headless servers)", allow_abbrev=False
    )
    users_add.add_argument("user_id")
    users_add.add_argument(
        "--refresh-token",
        nargs="?",
        const="-",
        metavar="-",
        help="read the refresh token from stdin (the default); a token given here is refused",
    )
    users_add.add_argument("--refresh-token-file", metavar="FILE", help="read the token from FILE ('-': stdin)")
    users_add.add_argument("--display-name")
    users_add.add_argument("--timezone", help="IANA time zone (default LISTORY_DEFAULT_TIMEZONE or UTC)")
    users_add.add_argument("--client-id", help="the user's own Spotify app that issued the token")
    users_add.add_argument("--client-secret-file", metavar="FILE", help="that app's client secret, read from FILE")
    users_add.set_defaults(func=cmd_users_add, writes_warehouse=True)
    users_disable = users_sub.add_parser("disable", help="stop crawling a user (data stays)")
    users_disable.add_argument("user_id")
    users_disable.add_argument("--reason", help="shown in `users list`")
    users_disable.set_defaults(func=cmd_users_disable, writes_warehouse=True)
    users_enable = users_sub.add_parser("enable", help="crawl a disabled user again")
    users_enable.add_argument("user_id")
    users_enable.set_defaults(func=cmd_users_enable, writes_warehouse=True)
    users_tz = users_sub.add_parser("set-timezone", help="set a user's IANA time zone (reports use local time)")
    users_tz.add_argument("user_id")
    users_tz.add_argument("timezone", help="e.g. Europe/Berlin")
    users_tz.set_defaults(func=cmd_users_set_timezone, writes_warehouse=True)
    users_remove = users_sub.add_parser("remove", help="remove a user; keep or delete their data")
    users_remove.add_argument("user_id")
    data = users_remove.add_mutually_exclusive_group()
    data.add_argument("--delete-data", dest="delete_data", action="store_true", default=None,
                      help="also delete their listens, load records and landed pulls")
    data.add_argument("--keep-data", dest="delete_data", action="store_false",
                      help="only the registry entry (and the token) goes")
    users_remove.set_defaults(func=cmd_users_remove, writes_warehouse=True)
