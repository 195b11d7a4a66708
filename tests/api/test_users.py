"""Users: the `ehc users` command and the admin `/users` resource."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ehc.settings import get_settings
from ehc.store import repository
from ehc_cli import main as cli
from tests.conftest import Stack


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EHC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ehc.db'}")
    monkeypatch.setenv("EHC_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    assert cli.main(["teams", "load"]) == 0
    yield tmp_path
    get_settings.cache_clear()  # the next user of the settings reads the real environment


def test_the_users_command_refuses_an_unknown_team_or_role_and_lists_and_revokes(
    store_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["users", "create", "--name", "Paeds"]
    assert cli.main([*base, "--role", "team", "--team", "no-such-team"]) == 2
    assert "no team 'no-such-team'" in capsys.readouterr().err
    assert cli.main([*base, "--role", "wizard"]) == 2
    assert "no role 'wizard'" in capsys.readouterr().err
    assert cli.main([*base, "--role", "team"]) == 2
    assert "needs a team" in capsys.readouterr().err
    assert (
        cli.main(
            [*base, "--role", "team", "--team", "community-paediatrics", "--expires-in-days", "30"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Created team user 1, expires" in out
    assert cli.main(["users", "list"]) == 0
    listed = capsys.readouterr().out
    assert "community-paediatrics" in listed
    assert "expires" in listed
    assert cli.main(["users", "revoke", "1"]) == 0
    assert cli.main(["users", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli.main(["users", "revoke", "99"]) == 2


async def test_admins_manage_users_and_a_revoked_or_expired_token_stops_working(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    r = await s.http.post(
        "/users",
        json={"name": "Temp caseworker", "role": "caseworker", "expires_in_days": 1},
        headers=s.headers("admin"),
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = {"Authorization": f"Bearer {created['token']}"}
    assert (await s.http.get("/assessments", headers=token)).status_code == 200
    async with s.sessions() as session:
        later = s.clock.now + timedelta(days=2)
        assert await repository.user_by_token(session, token=created["token"], now=later) is None
    listed = (await s.get("/users", role="admin")).json()
    assert "token" not in listed[0]
    assert any(u["id"] == created["id"] and u["active"] for u in listed)
    r = await s.http.post(
        "/users", json={"name": "X", "role": "team", "team": "nope"}, headers=s.headers("admin")
    )
    assert r.status_code == 422
    assert "no team 'nope'" in r.json()["detail"]
    assert (await s.get("/users", role="caseworker")).status_code == 403
    r = await s.http.post(f"/users/{created['id']}/revoke", headers=s.headers("admin"))
    assert r.status_code == 200
    assert r.json()["active"] is False
    r = await s.http.get("/assessments", headers=token)
    assert r.status_code == 401
    r = await s.http.post("/users/999999/revoke", headers=s.headers("admin"))
    assert r.status_code == 404
