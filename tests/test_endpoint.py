"""Where requests go: api_url, the sandbox word and BULKSEND_SANDBOX_URL, each refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.endpoint import SANDBOX_URL_ENV, check_api_url, connect_to
from bulksend.errors import ConfigError
from bulksend.sandbox import Sandbox

SANDBOX_HINT = (
    "Set BULKSEND_SANDBOX_URL to the URL `bulksend sandbox` prints (http://127.0.0.1:PORT/api/v1), "
    "or unset it to start a sandbox for this run."
)


def connect_with_sandbox_url(url: str, tmp_path: Path) -> None:
    with connect_to(
        "sandbox",
        Channel.SMS,
        api_key_env="OCTOPODS_API_KEY",
        state_dir=tmp_path,
        environ={SANDBOX_URL_ENV: url},
        campaign_path=tmp_path / "campaign.yaml",
    ):
        pass


def test_plain_http_sandbox_url_off_loopback_names_the_variable(tmp_path: Path) -> None:
    """The campaign says api_url: sandbox, which is right: the variable is what to fix."""
    with pytest.raises(ConfigError) as caught:
        connect_with_sandbox_url("http://sandbox.example.com/api/v1", tmp_path)
    assert caught.value.path is None  # not the campaign file's fault
    assert str(caught.value) == (
        "the environment variable BULKSEND_SANDBOX_URL ('http://sandbox.example.com/api/v1') uses "
        "plain http to another machine: the key would cross the network unencrypted\n  "
        + SANDBOX_HINT
        + " A sandbox on another machine must be reached through https://."
    )


def test_a_sandbox_url_that_is_no_web_address_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        connect_with_sandbox_url("127.0.0.1:8000", tmp_path)
    assert str(caught.value) == (
        "the environment variable BULKSEND_SANDBOX_URL ('127.0.0.1:8000') is not a web address"
        f"\n  {SANDBOX_HINT}"
    )


def test_a_loopback_sandbox_url_is_used(tmp_path: Path, sandbox: Sandbox) -> None:
    with connect_to(
        "sandbox",
        Channel.WHATSAPP,
        api_key_env="OCTOPODS_API_KEY",
        state_dir=tmp_path,
        environ={SANDBOX_URL_ENV: sandbox.base_url + "/"},
    ) as client:
        assert client.get_template(539).template_id == 539


def test_plain_http_api_url_still_blames_the_campaign(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        check_api_url("http://api.example.com/api/v1", campaign_path=tmp_path / "c.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'c.yaml'}: api_url 'http://api.example.com")


def test_validate_names_the_variable_not_the_campaign(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("Phone,Name\n+14155550100,Ann\n", encoding="utf-8")
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(
        "name: t\nchannel: whatsapp\ntemplate_id: 539\nsource: people.csv\nphone_column: Phone\n"
        "variables: [Name, Name]\napi_url: sandbox\n",
        encoding="utf-8",
    )
    env = {SANDBOX_URL_ENV: "http://10.0.0.5:8080/api/v1", "OCTOPODS_API_KEY": ""}
    result = CliRunner().invoke(main, ["validate", str(campaign)], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        "error: the environment variable BULKSEND_SANDBOX_URL ('http://10.0.0.5:8080/api/v1') "
        "uses plain http"
    )
    assert "api_url" not in result.stderr
