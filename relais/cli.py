"""The `relais` command: provisioning, store and service entry points (SPEC S14)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import IntegrityError, OperationalError

from config.settings import Settings, SettingsError, load_settings
from store import repository
from store.migrate import upgrade
from store.models import Line
from store.session import Store

app = typer.Typer(
    help="relais: SIP voicemail and call-management back end.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no type tags such as <bool> after flags
)
PLAIN: dict[str, Any] = {"no_args_is_help": True, "rich_markup_mode": None}
db_app = typer.Typer(help="Create or migrate the store.", **PLAIN)
account_app = typer.Typer(help="Accounts (with their primary line).", **PLAIN)
line_app = typer.Typer(help="Lines of an account, with their mailboxes.", **PLAIN)
device_app = typer.Typer(help="SIP devices of a line.", **PLAIN)
app.add_typer(db_app, name="db")
app.add_typer(account_app, name="account")
app.add_typer(line_app, name="line")
app.add_typer(device_app, name="device")

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

DEMO_NUMBER = "6135550100"
DEMO_SECOND_LINE = "6135550101"
DEMO_NAME = "Demo Subscriber"
DEMO_PASSWORD = "relais-demo"
DEMO_PIN = "4826"
DEMO_DEVICE_USER = "6135550100"
DEMO_DEVICE_PASSWORD = "demo-phone-2026"


class CliError(Exception):
    """A one-line reason for a non-zero exit."""


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def one_line_errors(func: F) -> F:
    """Turn expected failures into `error: <reason>` on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, LookupError, CliError, SettingsError) as exc:
            fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
        except IntegrityError as exc:
            fail(f"the store refused the change ({exc.orig})")
        except OperationalError as exc:
            fail(f"cannot use the store ({exc.orig})")

    return wrapper  # type: ignore[return-value]


def settings() -> Settings:
    return load_settings()


# Libraries that say at INFO what relais says itself (migrations run, server started and
# stopped): their lines show with log_level DEBUG only.
CHATTY = ("alembic", "uvicorn.error", "amqtt", "transitions")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "DEBUG":
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)


def open_store(cfg: Settings, migrate: bool = True) -> Store:
    cfg.storage_root.mkdir(parents=True, exist_ok=True)
    store = Store(cfg.effective_database_url)
    if migrate:
        upgrade(store.engine)
    return store


def mailbox_defaults(cfg: Settings) -> repository.MailboxDefaults:
    return repository.MailboxDefaults(
        quota_seconds=cfg.mailbox.quota_seconds,
        max_message_seconds=cfg.mailbox.max_message_seconds,
        min_message_seconds=cfg.mailbox.min_message_seconds,
    )


# ------------------------------------------------------------------------------------------------


@db_app.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Create the store or migrate it to the newest schema."""
    cfg = settings()
    store = open_store(cfg, migrate=False)
    upgrade(store.engine)
    typer.echo(f"store ready: {store.engine.url.render_as_string(hide_password=True)}")


@account_app.command("add")
@one_line_errors
def account_add(
    number: Annotated[str, typer.Option(help="10-digit primary line / mailbox number")],
    name: Annotated[str, typer.Option(help="display name")],
    password: Annotated[str, typer.Option(help="portal password (8+ characters)")],
    pin: Annotated[str, typer.Option(help="voicemail and call-services PIN (4-10 digits)")],
    language: Annotated[str, typer.Option(help="fr or en")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "",
) -> None:
    """Add an account with its primary line and mailbox."""
    cfg = settings()
    store = open_store(cfg)
    with store.transaction() as s:
        repository.create_account(
            s,
            number=number,
            name=name,
            password=password,
            pin=pin,
            language=language or cfg.language,
            timezone=timezone or cfg.timezone,
            mailbox=mailbox_defaults(cfg),
        )
    typer.echo(f"account added: {number} ({name.strip()})")


@line_app.command("add")
@one_line_errors
def line_add(
    account: Annotated[str, typer.Option(help="a line number of the account")],
    number: Annotated[str, typer.Option(help="the new 10-digit line number")],
) -> None:
    """Add a secondary line (with its mailbox) to an account."""
    cfg = settings()
    store = open_store(cfg)
    with store.transaction() as s:
        repository.add_line(s, account_number=account, number=number, mailbox=mailbox_defaults(cfg))
    typer.echo(f"line added: {number} on the account of {account}")


@device_app.command("add")
@one_line_errors
def device_add(
    number: Annotated[str, typer.Option(help="the line the device belongs to")],
    username: Annotated[str, typer.Option(help="SIP username")],
    password: Annotated[str, typer.Option(help="SIP password (8+ characters)")],
    contact: Annotated[
        str | None, typer.Option(help="static contact URI (reached without registration)")
    ] = None,
) -> None:
    """Add a SIP device (desk phone or softphone) to a line."""
    cfg = settings()
    store = open_store(cfg)
    with store.transaction() as s:
        repository.add_device(
            s,
            number=number,
            username=username,
            password=password,
            domain=cfg.sip_domain,
            contact=contact,
        )
    typer.echo(f"device added: sip:{username}@{cfg.sip_domain} on line {number}")


def ensure_demo(store: Store, cfg: Settings) -> bool:
    """Create the demo account if it does not exist; True when it was created."""
    with store.transaction() as s:
        if s.get(Line, DEMO_NUMBER) is not None:
            return False
        repository.create_account(
            s,
            number=DEMO_NUMBER,
            name=DEMO_NAME,
            password=DEMO_PASSWORD,
            pin=DEMO_PIN,
            language=cfg.language,
            timezone=cfg.timezone,
            mailbox=mailbox_defaults(cfg),
        )
        repository.add_line(
            s, account_number=DEMO_NUMBER, number=DEMO_SECOND_LINE, mailbox=mailbox_defaults(cfg)
        )
        repository.add_device(
            s,
            number=DEMO_NUMBER,
            username=DEMO_DEVICE_USER,
            password=DEMO_DEVICE_PASSWORD,
            domain=cfg.sip_domain,
        )
    return True


def demo_text(cfg: Settings, created: bool) -> str:
    state = "created" if created else "already exists (credentials as created)"
    return "\n".join(
        [
            f"demo account {state}:",
            f"  mailbox number : {DEMO_NUMBER} (second line {DEMO_SECOND_LINE})",
            f"  portal password: {DEMO_PASSWORD}",
            f"  voicemail PIN  : {DEMO_PIN}",
            f"  SIP device     : sip:{DEMO_DEVICE_USER}@{cfg.sip_domain}"
            f" password {DEMO_DEVICE_PASSWORD}",
        ]
    )


@app.command()
@one_line_errors
def demo() -> None:
    """Create the demo account (prints its number, password and PIN)."""
    cfg = settings()
    store = open_store(cfg)
    created = ensure_demo(store, cfg)
    typer.echo(demo_text(cfg, created))


@app.command()
@one_line_errors
def run(
    no_edge: Annotated[bool, typer.Option("--no-edge", help="run without Kamailio")] = False,
    workers: Annotated[int | None, typer.Option(help="switch worker processes")] = None,
) -> None:
    """Run everything in the foreground (Ctrl-C stops every child cleanly)."""
    from relais.run import run_all

    cfg = settings()
    configure_logging(cfg.log_level)
    raise typer.Exit(code=run_all(cfg, no_edge=no_edge, workers=workers))


@app.command("portal")
@one_line_errors
def portal_command(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    ssl_certfile: Annotated[
        str | None, typer.Option(help="serve HTTPS with this certificate (PEM)")
    ] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="private key of the certificate")] = None,
) -> None:
    """Run the subscriber web portal and its JSON API (uvicorn)."""
    import uvicorn

    from portal.app import create_app

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise CliError("--ssl-certfile and --ssl-keyfile go together")
    cfg = settings()
    configure_logging(cfg.log_level)
    store = open_store(cfg)
    app_ = create_app(cfg, store=store)
    bind_host = host or cfg.portal_host
    bind_port = port or cfg.portal_port
    scheme = "https" if ssl_certfile else "http"
    typer.echo(f"portal {scheme}://{bind_host}:{bind_port}")
    uvicorn.run(
        app_,
        host=bind_host,
        port=bind_port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        proxy_headers=False,
        server_header=False,
        # Event streams stay open: on SIGTERM they get a few seconds, then the server stops.
        timeout_graceful_shutdown=5,
        log_config=None,
        # uvicorn sets its own loggers' level: its start and stop lines at DEBUG only (CHATTY).
        log_level="debug" if cfg.log_level == "DEBUG" else "warning",
    )


@app.command()
@one_line_errors
def switch(
    workers: Annotated[int | None, typer.Option(help="worker processes (default: workers)")] = None,
    no_edge: Annotated[
        bool, typer.Option("--no-edge", help="reach devices by their static contacts")
    ] = False,
) -> None:
    """Run the switch workers (restarted when they die) in the foreground."""
    from relais.run import Supervisor
    from switch.supervisor import worker_children

    cfg = settings()
    configure_logging(cfg.log_level)
    open_store(cfg).dispose()
    # Behind an edge (edge.enabled), possibly on another machine (docs/scaling.md).
    children = worker_children(
        cfg,
        workers=workers if workers is not None else cfg.workers,
        no_edge=no_edge or not cfg.edge.enabled,
    )
    raise typer.Exit(code=Supervisor(cfg, children).run())


@app.command()
@one_line_errors
def edge(
    workers: Annotated[
        int | None, typer.Option(help="local workers behind it (default: workers; 0: none)")
    ] = None,
) -> None:
    """Run only the edge (Kamailio) in the foreground, in front of the local workers and
    edge.extra_workers (an edge host of docs/scaling.md)."""
    from relais import edge as edge_
    from relais.run import Supervisor

    cfg = settings()
    count = cfg.workers if workers is None else workers
    if count < 0:
        raise CliError("--workers cannot be negative")
    if not edge_.installed(cfg):
        raise CliError(f"Kamailio is not installed at {cfg.edge.kamailio_bin} (edge.kamailio_bin)")
    if count == 0 and not cfg.edge.extra_workers:
        raise CliError("no worker to dispatch to: give --workers or edge.extra_workers")
    configure_logging(cfg.log_level)
    open_store(cfg).dispose()
    children = edge_.children(cfg, no_edge=False, workers=count, force=True)
    raise typer.Exit(code=Supervisor(cfg, children).run())


@app.command()
@one_line_errors
def bus() -> None:
    """The event bus: embedded MQTT broker (when no mqtt_url is set) and the outbox relay."""
    from events.bus import main as bus_main
    from events.mqtt import bus_address

    cfg = settings()
    bus_address(cfg)  # a bad mqtt_url stops here, with its one-line reason
    configure_logging(cfg.log_level)
    raise typer.Exit(code=bus_main(cfg, open_store(cfg)))


@app.command()
@one_line_errors
def notifier() -> None:
    """The notifier: e-mail, SMS, pager and outdial notifications and message forwarding."""
    from notify.email import parse_smtp_url
    from notify.notifier import main as notifier_main

    cfg = settings()
    if cfg.smtp_url:
        parse_smtp_url(cfg.smtp_url)  # a bad URL stops here, with its one-line reason
    configure_logging(cfg.log_level)
    raise typer.Exit(code=notifier_main(cfg, open_store(cfg)))


@app.command()
@one_line_errors
def status() -> None:
    """Workers, active calls, edge, broker and outbox backlog."""
    from relais.run import status_lines

    cfg = settings()
    for line in status_lines(cfg):
        typer.echo(line)


# The list / show / set / remove commands and `messages list` register themselves on the apps.
from relais import manage  # noqa: E402, F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
