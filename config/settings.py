"""One settings tree from config/defaults.toml, an optional relais.toml and RELAIS_* variables."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
# The folder relais is installed in (the checkout): the default storage root and the last
# place a relais.toml is looked for, whatever the current folder.
HOME = DEFAULTS_PATH.parent.parent


def default_workers() -> int:
    """Two switch workers per core: one worker's Python side saturates near 40 voicemail
    calls/s while pjmedia's clock thread runs beside it (docs/operations.md)."""
    return 2 * (os.cpu_count() or 1)


class SettingsError(ValueError):
    """A setting has a bad value; the message names the setting and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MailboxSettings(_Section):
    quota_seconds: int = Field(gt=0)
    max_message_seconds: int = Field(gt=0, le=3600)
    min_message_seconds: float = Field(ge=0, le=60)
    silence_seconds: float = Field(gt=0, le=60)
    pin_lockout_failures: int = Field(ge=1, le=100)
    pin_lockout_minutes: int = Field(ge=1)
    min_free_mb: int = Field(ge=0)


class PortalSecuritySettings(_Section):
    login_lockout_failures: int = Field(ge=1, le=100)
    login_lockout_minutes: int = Field(ge=1)
    login_rate_per_minute: int = Field(ge=1)
    greeting_max_bytes: int = Field(gt=0)
    csv_max_bytes: int = Field(gt=0)
    max_contacts_per_account: int = Field(ge=1, le=1_000_000)
    greeting_max_seconds: int = Field(ge=5, le=3600)
    audio_convert_seconds: float = Field(gt=0, le=600)
    session_idle_minutes: int = Field(ge=1)
    session_max_hours: int = Field(ge=1)


class PortalEventsSettings(_Section):
    bus: bool
    poll_seconds: float = Field(gt=0, le=60)
    bus_poll_seconds: float = Field(gt=0, le=600)
    keepalive_seconds: float = Field(gt=0, le=300)
    max_stream_seconds: float = Field(gt=0, le=86400)


class RoutingSettings(_Section):
    forward_timeout: int = Field(ge=5, le=300)
    max_diversions: int = Field(ge=1, le=20)
    confirm_seconds: int = Field(ge=1, le=30)


class DialPlanSettings(_Section):
    allow_international: bool
    allow_nanp_abroad: bool
    extension_digits: tuple[int, ...]
    blocked_area_codes: tuple[str, ...]
    blocked_exchanges: tuple[str, ...]

    @field_validator("extension_digits")
    @classmethod
    def _lengths(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        for n in v:
            if not 2 <= n <= 9:
                raise ValueError(f"extension length {n} is outside 2..9")
        return v

    @field_validator("blocked_area_codes", "blocked_exchanges")
    @classmethod
    def _three_digits(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for code in v:
            if not re.fullmatch(r"\d{3}", code):
                raise ValueError(f"{code!r} is not a 3-digit code")
        return v


class DemoSettings(_Section):
    create: bool
    allow_public: bool


class EdgeSettings(_Section):
    enabled: bool
    kamailio_bin: str
    children: int = Field(ge=1, le=64)
    shm_mb: int = Field(ge=16, le=4096)
    pkg_mb: int = Field(ge=4, le=256)
    max_message_bytes: int = Field(ge=1500, le=65535)
    max_forwards: int = Field(ge=10, le=255)
    flood_requests: int = Field(ge=2, le=100000)
    ban_seconds: int = Field(ge=1, le=86400)
    auth_failures: int = Field(ge=1, le=1000)
    auth_source_failures: int = Field(ge=1, le=100000)
    auth_user_failures: int = Field(ge=1, le=100000)
    auth_window_seconds: int = Field(ge=1, le=86400)
    probe_interval: int = Field(ge=1, le=300)
    worker_timeout_ms: int = Field(ge=100, le=30000)
    probe_timeout_ms: int = Field(ge=100, le=30000)
    device_timeout_ms: int = Field(ge=500, le=60000)
    register_min_expires: int = Field(ge=10, le=3600)
    register_max_expires: int = Field(ge=60, le=86400)
    max_contacts: int = Field(ge=1, le=100)
    extra_workers: tuple[str, ...]
    worker_port: int
    tcp_idle_seconds: int = Field(ge=1, le=3600)
    tcp_max_connections: int = Field(ge=256, le=1048576)
    tcp_per_source: int = Field(ge=1, le=100000)

    @field_validator("worker_port")
    @classmethod
    def _worker_port(cls, v: int) -> int:
        return _port(v)

    @model_validator(mode="after")
    def _expires(self) -> EdgeSettings:
        if self.register_min_expires > self.register_max_expires:
            raise ValueError("register_min_expires is above register_max_expires")
        return self

    @field_validator("extra_workers")
    @classmethod
    def _host_ports(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for w in v:
            m = re.fullmatch(r"([A-Za-z0-9.\-]+):(\d{1,5})", w)
            if not m or not 1 <= int(m.group(2)) <= 65535:
                raise ValueError(f"{w!r} is not a worker address such as 10.0.0.7:5070")
        return v


class BusSettings(_Section):
    relay_poll_seconds: float = Field(gt=0, le=10)
    relay_batch: int = Field(ge=1, le=10000)
    outbox_retention_hours: int = Field(ge=1)


class NotifySettings(_Section):
    poll_seconds: float = Field(gt=0, le=60)
    sweep_seconds: float = Field(gt=0, le=3600)
    concurrency: int = Field(ge=1, le=64)
    retry_base_seconds: int = Field(ge=1)
    retry_max_seconds: int = Field(ge=1)
    max_attempts: int = Field(ge=1)
    smtp_timeout_seconds: float = Field(gt=0)
    outdial_ring_seconds: int = Field(ge=5, le=120)
    outdial_result_timeout_seconds: int = Field(ge=10)


def _port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError(f"{v} is not a port number (1..65535)")
    return v


class Settings(BaseSettings):
    """The whole settings tree. Build it with load_settings(), not directly."""

    model_config = SettingsConfigDict(
        env_prefix="RELAIS_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database_url: str
    storage_root: Path
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    sip_domain: str = Field(min_length=1)
    sip_host: str
    sip_port: int
    sip_advertised_host: str
    switch_host: str
    switch_base_port: int

    workers: int = Field(ge=0, le=64)
    """0 = two per core (resolved when the settings load)."""
    max_calls_per_worker: int = Field(ge=1, le=4096)
    listen: Literal["tap", "files"]
    """How callers are listened to for in-band keys, silence and fax tones (switch.tap,
    switch.listen); "tap" falls back to files where the pjsua2 build has no tap."""
    listen_dir: str
    """Empty = in memory when /dev/shm has room, else under the storage root (switch.worker)."""
    trunk_uri: str
    trusted_addresses: tuple[str, ...]
    prompts_dir: str
    pilot_number: str
    access_number: str
    portal_host: str
    portal_port: int
    portal_secret: str
    mqtt_url: str
    mqtt_embedded_port: int
    smtp_url: str
    smtp_from: str
    timezone: str
    language: Literal["fr", "en"]
    mailbox: MailboxSettings
    portal_security: PortalSecuritySettings
    portal_events: PortalEventsSettings
    routing: RoutingSettings
    dialplan: DialPlanSettings
    edge: EdgeSettings
    bus: BusSettings
    demo: DemoSettings
    notify: NotifySettings

    @property
    def host_suffix(self) -> str:
        """ "" on one machine; "-<switch_host>" when the switch host has its own address: the
        hosts of a site share the storage root and each has a worker 0 (docs/scaling.md), so
        per-host files under it (workers' spool folders, status files) carry it."""
        if self.switch_host in ("127.0.0.1", "0.0.0.0", "", "localhost", "::1", "::"):
            return ""
        return "-" + self.switch_host.replace(":", "_")

    @field_validator("workers")
    @classmethod
    def _workers(cls, v: int) -> int:
        return v if v > 0 else default_workers()

    @field_validator("sip_port", "switch_base_port", "portal_port", "mqtt_embedded_port")
    @classmethod
    def _ports(cls, v: int) -> int:
        return _port(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("trunk_uri")
    @classmethod
    def _trunk(cls, v: str) -> str:
        if v and not re.fullmatch(r"sips?:[^\s]+", v):
            raise ValueError(f"{v!r} is not a SIP URI (sip:host[:port])")
        return v

    @field_validator("pilot_number")
    @classmethod
    def _pilot(cls, v: str) -> str:
        if not re.fullmatch(r"[*#]?\d{1,10}", v):
            raise ValueError(f"{v!r} is not a dialable pilot number such as *98")
        return v

    @field_validator("access_number")
    @classmethod
    def _access(cls, v: str) -> str:
        if v and not re.fullmatch(r"\d{10}", v):
            raise ValueError(f"{v!r} is not a 10-digit number")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt(cls, v: str) -> str:
        if v and not re.fullmatch(r"mqtts?://[^\s]+", v):
            raise ValueError(f"{v!r} is not an mqtt:// URL")
        return v

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, v: str) -> str:
        if v and not re.fullmatch(r"smtps?://[^\s]+", v):
            raise ValueError("not an smtp:// URL")  # never echo: it may carry a password
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if v and not re.match(r"(sqlite|postgresql)(\+\w+)?://", v):
            raise ValueError("only sqlite:// and postgresql:// URLs are supported")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _TomlSource(settings_cls, _user_config_path()),
            _TomlSource(settings_cls, DEFAULTS_PATH),
        )

    # Derived values -------------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.storage_root / 'relais.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def _user_config_path() -> Path | None:
    explicit = os.environ.get("RELAIS_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(f"RELAIS_CONFIG: {explicit} is not a readable file")
        return path
    for path in (Path("relais.toml"), HOME / "relais.toml"):
        if path.is_file():
            return path
    return None


class _TomlSource(PydanticBaseSettingsSource):
    """A TOML file as a settings source; nested tables are merged key by key later."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            with self.path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{self.path}: not valid TOML ({exc})") from None
        # A relative storage root is taken from the folder of the file that sets it (for the
        # defaults: the folder relais is installed in), so every folder finds the same store.
        root = data.get("storage_root")
        if isinstance(root, str) and root and not Path(root).is_absolute():
            base = HOME if self.path == DEFAULTS_PATH else self.path.resolve().parent
            data["storage_root"] = str((base / root).resolve())
        return data


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown setting"
        parts.append(f"{name}: {reason}")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings tree; raises SettingsError naming the setting and the reason."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
