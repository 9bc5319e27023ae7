"""Settings from the environment (prefix MOTCUA_), validated once at start."""

from __future__ import annotations

import socket
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"


class ClockMode(StrEnum):
    WALL = "wall"
    EVENT = "event"


class StateStore(StrEnum):
    """Where a worker keeps its local state (the judge's dossier table, the summary store)."""

    ROCKSDB = "rocksdb"  # on disk under MOTCUA_DATA_DIR, kept across restarts
    MEMORY = "memory"  # in the process: rebuilt from the topics at every start (tests)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("localhost:9092", min_length=1)
    kafka_security_protocol: str = Field(
        "PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str | None = Field(
        None, pattern=r"^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|GSSAPI|OAUTHBEARER)$"
    )
    kafka_sasl_username: str | None = None
    # secrets: never in a repr, a log line, an error message or a header (get_secret_value())
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None  # a client certificate (mutual TLS)
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None

    clock: ClockMode = ClockMode.WALL
    idle_timeout_s: float = Field(30.0, gt=0)
    allowed_lateness_s: float = Field(120.0, ge=0)
    app_id: str = Field("motcua-hub", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    grace_working_days: int = Field(1, ge=1, le=100)
    data_dir: Path = Path("./.motcua")
    web_port: int = Field(6066, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    # web access (hub/web/access.py, docs/settings.md "Web access"): `token` or
    # `token:UNIT1,UNIT2` entries separated by `;` or new lines; a file of their sha256 hashes
    web_tokens: SecretStr | None = Field(None, min_length=1)
    web_token_file: Path | None = None
    web_metrics_open: bool = False  # /metrics without a token (when tokens are configured)
    catalog_file: Path = DATA_DIR / "procedures.csv"
    units_file: Path = DATA_DIR / "units.csv"  # the receiving units /metrics labels name
    calendar_file: Path = DATA_DIR / "calendar-overrides.csv"
    # "" would turn the check off: refused
    land_security_code: SecretStr | None = Field(None, min_length=1)
    max_message_bytes: int = Field(524288, ge=1024)
    retention_days: float = Field(90.0, gt=0)  # a closed dossier's state is kept this long
    # hub.deadletter keeps rejected messages (raw, personal data included) this long
    deadletter_retention_days: float = Field(30.0, gt=0, le=3650)

    # bounds against hostile or broken feeds (docs/settings.md, "Bounds")
    max_items_per_message: int = Field(1000, ge=1, le=1_000_000)  # items of one inbound message
    deadletter_bytes_factor: float = Field(2.0, ge=1.0, le=100.0)  # dead-letter bytes per message
    max_events_per_dossier: int = Field(1000, ge=10, le=1_000_000)
    max_dossier_bytes: int = Field(262_144, ge=16_384, le=786_432)  # its stored events, raw
    max_text_chars: int = Field(2000, ge=100, le=1_000_000)  # free text kept per field
    max_event_age_days: float = Field(3650.0, gt=0)  # times accepted: not older than this,
    max_event_lead_s: float = Field(86_400.0, ge=0)  # event times not later than wall + this

    # this worker among the others, stable across its restarts: it names its transactional
    # producers (a restarted worker aborts what its previous run left open) and its web address
    instance_id: str = Field(
        default_factory=lambda: socket.gethostname(), min_length=1, pattern=r"^[A-Za-z0-9._-]+$"
    )
    web_url: str | None = None  # how other workers reach this one's web port (trace routing)
    # A worker silent for session_timeout_s loses its partitions to the others; a transaction
    # open longer than transaction_timeout_s is aborted by the broker. The second shorter than
    # the first: a worker stalled long enough to lose its partitions has lost its open batch.
    session_timeout_s: float = Field(30.0, ge=6.0, le=300.0)
    transaction_timeout_s: float = Field(20.0, ge=1.0, le=900.0)

    # local state (docs/settings.md, "Local state"): <data_dir>/<app_id>/<instance>/...
    state_store: StateStore = StateStore.ROCKSDB
    rocksdb_block_cache_mb: int = Field(64, ge=4, le=65_536)  # per RocksDB store of a worker
    state_cache_dossiers: int = Field(5000, ge=0, le=1_000_000)  # decoded states the judge keeps
    summary_cache_entries: int = Field(2_000, ge=0, le=1_000_000)  # decoded summaries kept
    wake_index_max: int = Field(20_000, ge=100, le=10_000_000)  # deadline entries per partition
    standby_replicas: bool = True  # tail the changelog of the partitions judged elsewhere

    # the compiled hot modules (hub/native.py): auto (when built and current), off, required.
    # Read as `hub` is imported, before any hot module is; validated here with the rest.
    native: Literal["auto", "off", "required"] = "auto"

    partitions: int = Field(6, ge=1, le=1000)  # default partition count for the hub's topics
    tick_interval_s: float = Field(1.0, gt=0)  # how often the clock ticks reach the processors
    # records a stage takes at a time, one transaction: under a backlog (a replay) a larger
    # batch writes a busy dossier's state once for more of its events, and commits less often
    batch_max: int = Field(2000, ge=1, le=100_000)
    # how long a stage waits to fill a batch: each stage adds up to this to a message's latency;
    # a replay's backlog fills batches at once whatever it is (bench: p99 at 1 000 msg/s 407 ms
    # at 0.05, 237 ms at 0.02)
    batch_within_s: float = Field(0.02, gt=0)

    # a warped wall clock (hub/stream/clock.py; the demo): simulated time runs clock_speed times
    # as fast, from clock_origin at the wall instant clock_origin_at (default: process start)
    clock_speed: float = Field(1.0, gt=0, allow_inf_nan=False)
    clock_origin: AwareDatetime | None = None
    clock_origin_at: AwareDatetime | None = None

    # the local development broker (motcua-hub broker ...)
    broker_port: int = Field(9092, ge=1, le=65535)
    broker_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_version: str = Field("4.3.1", pattern=r"^\d+\.\d+\.\d+$")
    broker_heap: str = Field("512m", pattern=r"^\d+[mMgG]$")

    @property
    def instance(self) -> str:
        """This worker's name: the instance id and its web port (several per host)."""
        return f"{self.instance_id}-{self.web_port}"

    def state_dir(self, name: str) -> Path:
        """Where this worker keeps the local store `name`: its own directory, never shared."""
        return self.data_dir / self.app_id / self.instance / name

    @property
    def advertised_web_url(self) -> str:
        return self.web_url or f"http://{self.web_host}:{self.web_port}"

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Settings:
        sasl = self.kafka_security_protocol.startswith("SASL")
        if sasl and self.kafka_sasl_mechanism is None:
            raise ValueError(
                f"MOTCUA_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "MOTCUA_KAFKA_SASL_MECHANISM"
            )
        if not sasl and self.kafka_sasl_mechanism is not None:
            raise ValueError(
                "MOTCUA_KAFKA_SASL_MECHANISM is set but MOTCUA_KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}"
            )
        plain = self.kafka_sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if sasl and plain and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"MOTCUA_KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism} needs "
                "MOTCUA_KAFKA_SASL_USERNAME and MOTCUA_KAFKA_SASL_PASSWORD"
            )
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("MOTCUA_KAFKA_SSL_CERTFILE and MOTCUA_KAFKA_SSL_KEYFILE go together")
        return self

    @model_validator(mode="after")
    def _transactions_expire_before_sessions(self) -> Settings:
        if self.transaction_timeout_s >= self.session_timeout_s:
            raise ValueError(
                "MOTCUA_TRANSACTION_TIMEOUT_S must be shorter than MOTCUA_SESSION_TIMEOUT_S "
                f"({self.transaction_timeout_s} >= {self.session_timeout_s})"
            )
        return self

    @model_validator(mode="after")
    def _origin_at_needs_origin(self) -> Settings:
        if self.clock_origin_at is not None and self.clock_origin is None:
            raise ValueError("MOTCUA_CLOCK_ORIGIN_AT is set without MOTCUA_CLOCK_ORIGIN")
        return self


def load_settings() -> Settings:
    """Read and validate the environment; a bad value names its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MOTCUA_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else err["msg"]
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


def secret(value: SecretStr | None) -> str | None:
    """A secret setting's text, for the one place that must hand it on."""
    return None if value is None else value.get_secret_value()
