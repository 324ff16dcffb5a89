"""The WhatsApp (Twilio) part of the configuration, as an operator meets it: the TWILIO_* environment
variables, SIKESAL_PUBLIC_URL and SIKESAL_HTTP_PORT, and the ``whatsapp:`` section of config.yaml.
Half a configuration must stop the start with the missing names; the auth token must never be shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import ConfigError, Settings, TwilioSettings, load_config

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "config.yaml"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
SENDER = "whatsapp:+14155238886"
VARIABLES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM", "TWILIO_API_BASE",
             "SIKESAL_PUBLIC_URL", "SIKESAL_HTTP_PORT", "SIKESAL_HTTP_HOST")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No TWILIO_* from the machine, and no ./.env (Settings reads it)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def full(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    values = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_WHATSAPP_FROM": SENDER}
    set_env(monkeypatch, **{**values, **extra})


# --- the environment ----------------------------------------------------------------------------------


def test_without_twilio_variables_whatsapp_is_off() -> None:
    assert Settings().twilio() is None


def test_a_complete_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    full(monkeypatch)
    twilio = Settings().twilio()
    assert twilio == TwilioSettings(account_sid=SID, auth_token=TOKEN, whatsapp_from=SENDER)
    assert twilio.api_base is None and twilio.public_url is None


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"TWILIO_ACCOUNT_SID": SID}, ["TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"]),
        ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_WHATSAPP_FROM": SENDER}, ["TWILIO_AUTH_TOKEN"]),
        ({"TWILIO_AUTH_TOKEN": TOKEN}, ["TWILIO_ACCOUNT_SID", "TWILIO_WHATSAPP_FROM"]),
        ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "", "TWILIO_WHATSAPP_FROM": SENDER},
         ["TWILIO_AUTH_TOKEN"]),
    ],
)
def test_half_a_configuration_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, str], missing: list[str]
) -> None:
    set_env(monkeypatch, **given)
    with pytest.raises(ConfigError) as caught:
        Settings().twilio()
    message = str(caught.value)
    for name in missing:
        assert name in message
    for name in set(given) - set(missing):
        assert name not in message, f"{name} is set and must not be reported missing: {message}"
    assert TOKEN not in message


@pytest.mark.parametrize("sender", ["+14155238886", "whatsapp:14155238886", "sms:+14155238886", "WhatsApp +1"])
def test_the_sender_must_be_a_whatsapp_address(monkeypatch: pytest.MonkeyPatch, sender: str) -> None:
    full(monkeypatch, TWILIO_WHATSAPP_FROM=sender)
    with pytest.raises(ConfigError, match="TWILIO_WHATSAPP_FROM"):
        Settings().twilio()


def test_trailing_slashes_are_dropped_from_the_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    full(monkeypatch, TWILIO_API_BASE="http://127.0.0.1:8090/", SIKESAL_PUBLIC_URL="https://sikesal.example.org//")
    twilio = Settings().twilio()
    assert twilio is not None
    assert twilio.api_base == "http://127.0.0.1:8090"
    assert twilio.public_url == "https://sikesal.example.org"
    # what the webhook checks signatures against and what Twilio is given as the status callback
    assert twilio.public_url + "/twilio/whatsapp" == "https://sikesal.example.org/twilio/whatsapp"


def test_a_public_url_without_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    full(monkeypatch, SIKESAL_PUBLIC_URL="sikesal.example.org")
    with pytest.raises(ConfigError, match="SIKESAL_PUBLIC_URL"):
        Settings().twilio()


def test_the_auth_token_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    full(monkeypatch, TWILIO_API_BASE="http://127.0.0.1:8090")
    settings = Settings()
    twilio = settings.twilio()
    assert twilio is not None and twilio.auth_token == TOKEN
    for shown in (repr(settings), str(settings), repr(twilio), str(twilio), f"{settings!r} {twilio}"):
        assert TOKEN not in shown
    assert SID in repr(twilio), "the account SID is not a secret and helps the operator"


def test_the_http_port_defaults_to_8080_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8080)
    monkeypatch.setenv("SIKESAL_HTTP_PORT", "9090")
    assert Settings().http_port == 9090


# --- config.yaml: whatsapp ------------------------------------------------------------------------------


def sample() -> dict[str, Any]:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, whatsapp: dict[str, Any]) -> Path:
    data = sample()
    data["whatsapp"] = whatsapp
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_status_template_is_loaded(tmp_path: Path) -> None:
    good, english = "HX" + "a1" * 16, "HX" + "b2" * 16
    config = load_config(write(tmp_path, {"status_template": {"content_sid": {"id": good, "en": english}}}))
    template = config.whatsapp.status_template
    assert template is not None
    assert (template.sid_for("id"), template.sid_for("en")) == (good, english)


@pytest.mark.parametrize("sid", ["HX123", "MG" + "a1" * 16, "HX" + "a1" * 17, ""])
def test_a_malformed_status_template_sid_names_the_key(tmp_path: Path, sid: str) -> None:
    path = write(tmp_path, {"status_template": {"content_sid": {"id": sid}}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "whatsapp.status_template.content_sid" in message
    assert "content SID" in message


def test_a_malformed_menu_template_names_the_menu(tmp_path: Path) -> None:
    path = write(tmp_path, {"menu_templates": {"sum": {"content_sid": {"id": "HXnope"}}}})
    with pytest.raises(ConfigError, match=r"whatsapp\.menu_templates\.sum\.content_sid"):
        load_config(path)


def test_a_template_language_must_be_id_or_en(tmp_path: Path) -> None:
    path = write(tmp_path, {"status_template": {"content_sid": {"jv": "HX" + "a1" * 16}}})
    with pytest.raises(ConfigError, match=r"whatsapp\.status_template\.content_sid.*'jv'"):
        load_config(path)


def test_a_misspelt_whatsapp_key_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, {"status_templat": {"content_sid": {"id": "HX" + "a1" * 16}}})
    with pytest.raises(ConfigError, match=r"whatsapp\.status_templat: unknown key"):
        load_config(path)


def test_webhook_and_status_paths_must_differ(tmp_path: Path) -> None:
    path = write(tmp_path, {"webhook_path": "/twilio", "status_path": "/twilio"})
    with pytest.raises(ConfigError, match="webhook_path and status_path must differ"):
        load_config(path)
