"""An app is freed once nothing holds it: a process that builds apps (the test suite, a
server reloading its workers) must not keep each one, with its templates and state,
for ever. FastAPI memoises what it learns of every endpoint and dependency by the
function object, so an endpoint made per app, closing over it, would keep the app alive."""

from __future__ import annotations

import gc
import weakref

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from stewardship.core.config import Settings
from stewardship.web.app import create_app


def _used_once(settings: Settings, engine: Engine) -> weakref.ref[object]:
    app = create_app(settings=settings, engine=engine)
    client = TestClient(app, raise_server_exceptions=False)
    # Pages, the API, its documentation and an error: every kind of route runs once.
    for path in ("/login", "/api/v1/registry/organizations", "/api/docs",
                 "/api/openapi.json", "/no/such/page"):
        assert client.get(path).status_code in (200, 404), path
    return weakref.ref(app)


def test_an_app_nothing_holds_is_freed(settings: Settings, engine: Engine) -> None:
    gone = [_used_once(settings, engine) for _ in range(3)]
    gc.collect()
    assert [ref() for ref in gone] == [None, None, None]


def test_a_started_server_keeps_what_it_built_out_of_full_collections(
        settings: Settings, engine: Engine) -> None:
    gc.unfreeze()
    frozen = create_app(settings=settings.model_copy(update={"freeze_at_start": True}),
                        engine=engine)
    try:
        with TestClient(frozen) as client:
            assert gc.get_freeze_count() > 10_000  # the modules, routes and templates
            assert client.get("/login").status_code == 200
    finally:
        gc.unfreeze()
    # The test environment leaves the collector alone unless told otherwise.
    assert settings.freezes_at_start is False
    with TestClient(create_app(settings=settings, engine=engine)):
        assert gc.get_freeze_count() == 0
