"""Linking the signed-in person to their GP system record through the port."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona
from app.auth.models import Account, AuthSession
from app.auth.oidc import NHSLoginIdentity
from app.auth.service import link_patient
from app.gp.errors import LinkageMethodUnsupported
from app.gp.types import DemographicMatch, GPCredentials, LinkedUser
from tests.auth.conftest import MockOP, query_of


async def _sign_in(rp: httpx.AsyncClient, op: MockOP) -> httpx.Response:
    start = await rp.get("/v1/auth/login")
    authorize = query_of(start.headers["location"])
    op.nonce = authorize["nonce"]
    return await rp.get("/v1/auth/callback", params={"code": "c", "state": authorize["state"]})


async def test_p9_with_wrong_gp_credentials_is_a_clear_problem_and_no_session(
    rp: httpx.AsyncClient, mock_op: MockOP, engine: AsyncEngine
) -> None:
    mock_op.claims["gp_integration_credentials"]["gp_linkage_key"] = "wrong"
    response = await _sign_in(rp, mock_op)
    assert response.status_code == 403
    assert response.json()["code"] == "linkage_failed"
    async with engine.connect() as connection:
        assert (await connection.execute(select(AuthSession))).all() == []


async def test_p9_at_a_practice_we_do_not_serve_is_a_clear_problem(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    mock_op.claims["gp_integration_credentials"]["gp_ods_code"] = "Z99999"
    mock_op.claims["gp_registration_details"]["gp_ods_code"] = "Z99999"
    response = await _sign_in(rp, mock_op)
    assert response.status_code == 404
    assert response.json()["code"] == "patient_not_found"


async def test_p9_without_gp_credentials_links_by_demographics(
    rp: httpx.AsyncClient, mock_op: MockOP, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    del mock_op.claims["gp_integration_credentials"]
    assert (await _sign_in(rp, mock_op)).status_code == 303
    async with engine.connect() as connection:
        account = (await connection.execute(select(Account))).one()
    assert account.gp_user_ref == persona("adult-full").patient_ref
    assert account.gp_credentials_encrypted is None


async def test_p5_found_by_demographics_is_linked(
    rp: httpx.AsyncClient, mock_op: MockOP, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    daniel = persona("p5-identity")
    mock_op.claims = dict(daniel.nhs_login_claims)
    assert (await _sign_in(rp, mock_op)).status_code == 303
    async with engine.connect() as connection:
        account = (await connection.execute(select(Account))).one()
    assert account.identity_level == "P5"
    assert account.gp_user_ref == daniel.patient_ref


async def test_p5_not_found_signs_in_unlinked(
    rp: httpx.AsyncClient, mock_op: MockOP, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    mock_op.claims = {**persona("p5-identity").nhs_login_claims, "family_name": "Nobody"}
    assert (await _sign_in(rp, mock_op)).status_code == 303
    described = (await rp.get("/v1/auth/session")).json()
    assert described["identity_level"] == "P5"
    assert described["gp_linked"] is False


class _CredentialsUnsupported:
    """A GP system that, like GP Connect, links by demographics only."""

    ods_code = "A81001"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def link_by_credentials(self, credentials: object) -> object:
        self.calls.append("credentials")
        raise LinkageMethodUnsupported(supplier_code="NOT_SUPPORTED")

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        self.calls.append("demographics")
        return LinkedUser(user_ref="U1", ods_code=match.ods_code, nhs_number=match.nhs_number)


class _Registry:
    def __init__(self, system: _CredentialsUnsupported) -> None:
        self.system = system

    def for_practice(self, ods_code: str) -> _CredentialsUnsupported:
        return self.system


async def test_credentials_fall_back_to_demographics_where_the_gp_system_cannot_use_them() -> None:
    system = _CredentialsUnsupported()
    identity = NHSLoginIdentity(
        sub="s",
        identity_level="P9",
        vot="P9.Cp.Cd",
        nhs_number="9990000018",
        family_name="Harrison",
        birth_date=date(1980, 1, 1),
        ods_code="A81001",
        gp_credentials=GPCredentials("u", "k", "A81001"),
    )
    linked = await link_patient(_Registry(system), identity)  # type: ignore[arg-type]
    assert linked is not None and linked.user_ref == "U1"
    assert system.calls == ["credentials", "demographics"]
