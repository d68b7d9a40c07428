"""The `relais` command: provisioning, store and service entry points (SPEC S14)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import IntegrityError, OperationalError

from config.settings import Settings, SettingsError, load_settings
from store import permissions, repository
from store.migrate import upgrade
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
    cfg.storage_root.mkdir(parents=True, exist_ok=True, mode=permissions.FOLDER_MODE)
    store = Store(cfg.effective_database_url)
    if migrate:
        upgrade(store.engine)
    if cfg.is_sqlite:  # made before umask 077, or by an older relais
        permissions.tighten_database(Path(store.engine.url.database or ""))
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
    permissions.tighten_tree(cfg.storage_root)
    typer.echo(f"store ready: {store.engine.url.render_as_string(hide_password=True)}")


@account_app.command("add")
@one_line_errors
def account_add(
    number: Annotated[str, typer.Option(help="10-digit primary line / mailbox number")],
    name: Annotated[str, typer.Option(help="display name")],
    password: Annotated[
        str, typer.Option(help="portal password (10+ characters, not a common one)")
    ],
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


@account_app.command("dialing")
@one_line_errors
def account_dialing(
    number: Annotated[str, typer.Option(help="a line number of the account")],
    nanp_abroad: Annotated[
        bool | None,
        typer.Option(
            "--nanp-abroad/--no-nanp-abroad",
            help="allow one-plus NANP numbers outside Canada and the US (809, 876 ...)",
        ),
    ] = None,
    international: Annotated[
        bool | None,
        typer.Option("--international/--no-international", help="allow 011 international numbers"),
    ] = None,
) -> None:
    """Show or change where the account's forwarding, outdial and replies may call."""
    cfg = settings()
    store = open_store(cfg)
    with store.transaction() as s:
        account = repository.get_line(s, number).account
        if nanp_abroad is not None:
            account.allow_nanp_abroad = nanp_abroad
        if international is not None:
            account.allow_international = international
        state = (
            f"NANP numbers outside Canada and the US: "
            f"{'allowed' if account.allow_nanp_abroad else 'refused'}; "
            f"international numbers: {'allowed' if account.allow_international else 'refused'}"
        )
    typer.echo(f"account of {number}: {state}")


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


@line_app.command("fax-number")
@one_line_errors
def line_fax_number(
    line: Annotated[str, typer.Option(help="the line")],
    fax_number: Annotated[
        str | None, typer.Option(help="its 10-digit fax number (unique); omit to remove it")
    ] = None,
) -> None:
    """Set (or remove) a line's fax number: calls to it are received as faxes."""
    store = open_store(settings())
    with store.transaction() as s:
        repository.set_fax_number(s, line, fax_number)
    typer.echo(f"fax number of {line}: {fax_number or 'none'}")


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


@app.command()
@one_line_errors
def demo(
    allow_public: Annotated[
        bool,
        typer.Option(
            "--allow-public",
            help="make it even when the portal or the SIP edge listens beyond loopback",
        ),
    ] = False,
) -> None:
    """Make the demo account on an empty store (its secrets are generated and shown once)."""
    from relais import demo as demo_

    cfg = settings()
    store = open_store(cfg)
    outcome = demo_.ensure(store, cfg, allow_public=allow_public)
    typer.echo(outcome.text)


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
    permissions.private_process()
    app()


if __name__ == "__main__":
    main()
