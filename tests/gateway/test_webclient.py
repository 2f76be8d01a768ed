"""The built reference client is served at ``/`` with a fallback to its entry page for the
client's own routes; API paths keep their answers, and nothing is mounted before a build."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ruxue_gateway.webclient import mount_web_client


async def graphql(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("api")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>入学</title>", encoding="utf-8")
    (tmp_path / "assets" / "app.js").write_text("console.log(1)", encoding="utf-8")
    return tmp_path


def test_files_routes_and_the_api_each_get_their_answer(dist: Path) -> None:
    app = Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"])])
    assert mount_web_client(app, dist)
    with TestClient(app) as client:
        assert "入学" in client.get("/").text
        assert client.get("/assets/app.js").text == "console.log(1)"
        for route in ("/apply", "/mine/42", "/staff/applications/7"):
            page = client.get(route)
            assert page.status_code == 200 and "入学" in page.text, route
        assert client.get("/graphql").text == "api"
        for api in ("/auth/nope", "/sandbox/nope", "/graphql/nope", "/assets/missing.js"):
            assert client.get(api).status_code == 404, api


def test_nothing_is_mounted_before_a_build(tmp_path: Path) -> None:
    app = Starlette()
    assert not mount_web_client(app, tmp_path / "dist")
    assert app.routes == []
