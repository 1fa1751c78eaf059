"""No redirect is followed: the key header would go along to whatever host a 3xx names.

Two scripted servers on 127.0.0.1: the "API" redirects to the other, addressed as localhost (a
different host name, as far as requests is concerned). The other must receive nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from bulksend.answers import AnswerKind, ApiAnswer
from bulksend.apikey import ApiKey
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.errors import CampaignRefusedError, ExitStatus
from tests.fakeapi import RecordedWaits, Reply, Script, running_fake_api

SECRET = "sk-live-SECRET-redirect-77"
API = "/api/v1/whatsapp"
CALLS: dict[str, Callable[[OctopodsClient], ApiAnswer]] = {
    "send": lambda client: client.send({"destination_phone": "+1"}, template_id=7),
    "status": lambda client: client.get_message(5),
    "list": lambda client: client.list_messages(),
}
PATHS = {
    "send": f"{API}/templates/7/messages",
    "status": f"{API}/messages/5",
    "list": f"{API}/messages",
}


@pytest.fixture
def servers() -> Iterator[tuple[Script, Script, str, str]]:
    """(api script, elsewhere script, api base URL, elsewhere base URL on localhost)."""
    with running_fake_api() as (api, api_url), running_fake_api() as (elsewhere, other_url):
        port = urlsplit(other_url).port
        yield api, elsewhere, api_url, f"http://localhost:{port}/api/v1"


@pytest.fixture
def client(servers) -> Iterator[OctopodsClient]:
    api_url = servers[2]
    with OctopodsClient(
        api_url, ApiKey(SECRET), Channel.WHATSAPP, wait=RecordedWaits(), key_env="WA_KEY"
    ) as made:
        yield made


def redirect_everything(api: Script, method: str, path: str, status: int, target: str) -> None:
    api.replies[(method, path)] = Reply(status, {}, headers={"Location": f"{target}{path[7:]}"})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_redirect_is_not_followed_and_stops_the_campaign(servers, client, status, call) -> None:
    api, elsewhere, _, other_url = servers
    method = "POST" if call == "send" else "GET"
    redirect_everything(api, method, PATHS[call], status, other_url)
    answer = CALLS[call](client)
    assert elsewhere.received == [], "the key went to the host the redirect named"
    assert len(api.received) == 1
    assert answer.kind is AnswerKind.CAMPAIGN_ERROR
    assert f"to localhost:{urlsplit(other_url).port}" in answer.error
    assert SECRET not in answer.error


def test_a_redirected_template_fetch_refuses_the_campaign(servers, client) -> None:
    api, elsewhere, _, other_url = servers
    redirect_everything(api, "GET", f"{API}/templates/7", 307, other_url)
    with pytest.raises(CampaignRefusedError) as refused:
        client.get_template(7)
    assert elsewhere.received == []
    assert refused.value.exit_status is ExitStatus.CAMPAIGN_REFUSED
    text = str(refused.value)
    assert "307 Temporary Redirect" in text and "localhost" in text and "api_url" in text
    assert SECRET not in text
