"""Settings are validated at start; a bad value or data file stops the hub naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import ClockMode, load_settings

CLI = str(Path(sys.executable).parent / "motcua-hub")


def test_defaults_run_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MOTCUA_CLOCK", "MOTCUA_KAFKA_BOOTSTRAP", "MOTCUA_GRACE_WORKING_DAYS"):
        monkeypatch.delenv(name, raising=False)
    cfg = load_settings()
    assert cfg.kafka_bootstrap == "localhost:9092"
    assert cfg.clock is ClockMode.WALL
    assert cfg.grace_working_days == 1
    assert cfg.max_message_bytes == 524288
    assert cfg.catalog_file.is_file() and cfg.calendar_file.is_file()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOTCUA_CLOCK", "sometimes"),
        ("MOTCUA_GRACE_WORKING_DAYS", "0"),
        ("MOTCUA_IDLE_TIMEOUT_S", "-1"),
        ("MOTCUA_MAX_MESSAGE_BYTES", "lots"),
        ("MOTCUA_WEB_PORT", "70000"),
        ("MOTCUA_KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("MOTCUA_APP_ID", "has space"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_the_worker_stops_on_a_bad_catalogue_line_before_touching_kafka(tmp_path: Path) -> None:
    bad = tmp_path / "procedures.csv"
    bad.write_text("code,name,sector,time_limit_wd\n1.1,A,land,3\n1.2,B,land,ten\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "MOTCUA_CATALOG_FILE": str(bad),
        "MOTCUA_KAFKA_BOOTSTRAP": "127.0.0.1:1",  # nothing listens: it must not get that far
        "MOTCUA_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [CLI, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "line 3" in done.stderr and str(bad) in done.stderr


SECRETS = {
    "MOTCUA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "MOTCUA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "MOTCUA_KAFKA_SASL_USERNAME": "hub",
    "MOTCUA_KAFKA_SASL_PASSWORD": "pa55-w0rd-sasl",
    "MOTCUA_KAFKA_SSL_KEY_PASSWORD": "k3y-pa55",
    "MOTCUA_LAND_SECURITY_CODE": "LAND-S3CRET",
}


def test_secrets_never_show_in_a_repr_or_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    cfg = load_settings()
    shown = repr(cfg) + str(cfg) + str(cfg.model_dump())
    for name in (
        "MOTCUA_KAFKA_SASL_PASSWORD",
        "MOTCUA_KAFKA_SSL_KEY_PASSWORD",
        "MOTCUA_LAND_SECURITY_CODE",
    ):
        assert SECRETS[name] not in shown
    from hub.kafka_client import connection_options
    from hub.settings import secret

    assert secret(cfg.land_security_code) == "LAND-S3CRET"
    monkeypatch.setenv("MOTCUA_KAFKA_SSL_CAFILE", "/nonexistent/ca.pem")
    with pytest.raises(FileNotFoundError) as caught:  # the password stays out of the error too
        connection_options(load_settings())
    assert "pa55" not in str(caught.value)
    monkeypatch.setenv("MOTCUA_WEB_PORT", "nope")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert not any(v in str(bad.value) for v in SECRETS.values() if v not in ("hub", "SASL_SSL"))


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MOTCUA_LAND_SECURITY_CODE": ""}, "LAND_SECURITY_CODE"),
        ({"MOTCUA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs MOTCUA_KAFKA_SASL_MECHANISM"),
        (
            {
                "MOTCUA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "MOTCUA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            },
            "needs MOTCUA_KAFKA_SASL_USERNAME and MOTCUA_KAFKA_SASL_PASSWORD",
        ),
        ({"MOTCUA_KAFKA_SASL_MECHANISM": "PLAIN"}, "is set but"),
        ({"MOTCUA_KAFKA_SASL_MECHANISM": "MD5"}, "MOTCUA_KAFKA_SASL_MECHANISM"),
        ({"MOTCUA_KAFKA_SSL_CERTFILE": "/x/cert.pem"}, "go together"),
    ],
)
def test_incomplete_kafka_security_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=says):
        load_settings()
