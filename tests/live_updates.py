"""Following an application's status with a standard client: ``gql``'s WebsocketsTransport
over graphql-transport-ws, signed in by the ``connection_init`` payload.

For end-to-end tests and as an example for front-end teams::

    async with live_updates(url, token) as session:
        async for update in follow(session, application_id):
            ...
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport

FOLLOW: Final = """
subscription Follow($id: ID!) {
  applicationUpdates(id: $id) {
    __typename
    ... on ApplicationUpdate {
      applicationId receiptNo status statusLabel previousStatus version at
    }
    ... on Error { code field message }
  }
}"""


def ws_url(http_url: str) -> str:
    """The WebSocket URL of a gateway's ``/graphql`` from its base HTTP URL."""
    return http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/graphql"


def transport(http_url: str, token: str | None) -> WebsocketsTransport:
    """A graphql-transport-ws transport; the token goes in ``connection_init``."""
    return WebsocketsTransport(
        url=ws_url(http_url),
        init_payload={"Authorization": f"Bearer {token}"} if token else {},
        subprotocols=["graphql-transport-ws"],
        connect_timeout=10,
        close_timeout=5,
    )


@contextlib.asynccontextmanager
async def live_updates(http_url: str, token: str | None) -> AsyncIterator[AsyncClientSession]:
    """A connected gql session to the gateway."""
    async with Client(transport=transport(http_url, token)) as session:
        yield session


async def follow(session: AsyncClientSession, application_id: int | str) -> AsyncIterator[Any]:
    """The ``applicationUpdates`` results of one application, as dictionaries."""
    request = GraphQLRequest(FOLLOW, variable_values={"id": str(application_id)})
    async for result in session.subscribe(request):
        yield result["applicationUpdates"]
