"""The patient's NHS login tokens at rest, for GP Connect's patient-facing APIs.

Those APIs take the patient's own access token, which the NHS API platform issues in
exchange for their NHS login ID token (docs/decisions/0007). The ID token is a bearer
credential for the patient, so it is kept like the GP credentials: Fernet-encrypted with
GP_CREDENTIALS_KEY, with the session it came from, and only from a P9 sign-in (the APIs
refuse anything less). So is NHS login's refresh token, when NHS login gave one.

An ID token lives an hour at most; a session, up to 12. Once the ID token has expired
(or the platform refused it as expired), the refresh token gets a fresh one from NHS
login, which is stored in its place, with the rotated refresh token. Without a refresh
token, or when NHS login refuses it, there is no ID token: the patient signs in again.
Both are unusable once the session ends, and are cleared then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol

from cryptography.fernet import MultiFernet
from sqlalchemy import Select, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.credentials import decrypt_text, encrypt_text
from app.auth.models import Account, AuthSession
from app.auth.oidc import RefreshedIdToken, RefreshRefused
from app.auth.problems import NHSLoginUnavailable
from app.clock import Clock
from app.gp.errors import GPSystemUnavailable

logger = logging.getLogger(__name__)

# An ID token this close to its end is not handed out: the exchange and the call after
# it would carry a dying token. It is refreshed instead.
ID_TOKEN_MARGIN: Final = timedelta(seconds=60)


# The sign-in in progress, (NHS number, ID token): its tokens are stored with the session
# only once the patient is linked, and linking at a GP Connect practice is itself a
# patient-facing call, made with that very ID token.
_signing_in: ContextVar[tuple[str, str] | None] = ContextVar("nhs_login_signing_in", default=None)


@contextlib.contextmanager
def presenting(nhs_number: str | None, id_token: str | None) -> Iterator[None]:
    """While a P9 sign-in links the patient, `SessionIdTokens` gives its own ID token for
    its own NHS number (and for no other)."""
    if not nhs_number or not id_token:
        yield
        return
    reset = _signing_in.set((nhs_number, id_token))
    try:
        yield
    finally:
        _signing_in.reset(reset)


class IdTokenRefresher(Protocol):
    """NHS login's refresh grant (`app.auth.oidc.RelyingParty`)."""

    async def refresh_id_token(
        self, refresh_token: str, *, sub: str, vot: str
    ) -> RefreshedIdToken: ...


@dataclass(frozen=True, slots=True)
class _Held:
    """One session's NHS login tokens, as stored (encrypted)."""

    session_id: str
    sub: str
    vot: str
    id_token: str | None = field(repr=False)
    id_token_expires_at: datetime | None
    refresh_token: str | None = field(repr=False)


_Query = Select[str, str, str, str | None, datetime | None, str | None]
_HELD = (
    AuthSession.id,
    Account.nhs_login_sub,
    AuthSession.vot,
    AuthSession.nhs_login_id_token_encrypted,
    AuthSession.nhs_login_id_token_expires_at,
    AuthSession.nhs_login_refresh_token_encrypted,
)


class SessionIdTokens:
    """`NHSLoginIdTokens` over the app's database: the ID token of the patient's newest
    live session that holds one still valid, else a fresh one got with that session's
    refresh token (`refresher`; without it, an expired ID token is the end)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        cipher: MultiFernet,
        clock: Clock,
        refresher: IdTokenRefresher | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._cipher = cipher
        self._clock = clock
        self._refresher = refresher
        # One refresh at a time per session in this process: a refresh token may be
        # single-use, so a second refresh with it could end the first one's result.
        self._refreshing: dict[str, tuple[asyncio.Lock, int]] = {}

    async def id_token_for(self, nhs_number: str, *, refused: str | None = None) -> str | None:
        """`refused`: the ID token the platform just refused as expired; another is
        given (refreshed unless another call has refreshed it already), or None."""
        presented = _signing_in.get()
        if presented is not None and presented[0] == nhs_number and presented[1] != refused:
            return presented[1]
        held = await self._find(self._newest(nhs_number))
        if held is None:
            return None
        if (token := self._usable(held, refused)) is not None:
            return token
        if held.refresh_token is None or self._refresher is None:
            return None
        async with self._one_refresh_at_a_time(held.session_id):
            # Another call may have refreshed while this one waited: use its token.
            held = await self._find(self._session(held.session_id))
            if held is None:
                return None
            if (token := self._usable(held, refused)) is not None:
                return token
            if held.refresh_token is None:
                return None
            return await self._refresh(held, self._refresher, held.refresh_token)

    # --- reading ---------------------------------------------------------------------

    def _newest(self, nhs_number: str) -> _Query:
        now = self._clock.now()
        valid = AuthSession.nhs_login_id_token_expires_at > now + ID_TOKEN_MARGIN
        return (
            self._live()
            .where(
                Account.nhs_number == nhs_number,
                or_(
                    AuthSession.nhs_login_id_token_encrypted.is_not(None),
                    AuthSession.nhs_login_refresh_token_encrypted.is_not(None),
                ),
            )
            # A session whose ID token is still valid first, then the newest.
            .order_by(case((valid, 0), else_=1), AuthSession.created_at.desc())
            .limit(1)
        )

    def _session(self, session_id: str) -> _Query:
        return self._live().where(AuthSession.id == session_id)

    def _live(self) -> _Query:
        now = self._clock.now()
        return (
            select(*_HELD)
            .join(Account, Account.id == AuthSession.account_id)
            .where(AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
        )

    async def _find(self, query: _Query) -> _Held | None:
        async with self._sessionmaker() as db:
            row = (await db.execute(query)).first()
        return None if row is None else _Held(*row)

    def _usable(self, held: _Held, refused: str | None) -> str | None:
        """The held ID token, unless it is (nearly) expired or the one refused."""
        expires_at = held.id_token_expires_at
        if held.id_token is None or expires_at is None:
            return None
        if expires_at <= self._clock.now() + ID_TOKEN_MARGIN:
            return None
        token = decrypt_text(self._cipher, held.id_token, what="an NHS login ID token")
        return None if token == refused else token

    # --- refreshing ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _one_refresh_at_a_time(self, session_id: str) -> AsyncIterator[None]:
        lock, users = self._refreshing.get(session_id, (asyncio.Lock(), 0))
        self._refreshing[session_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._refreshing[session_id]
            if users > 1:
                self._refreshing[session_id] = (lock, users - 1)
            else:
                del self._refreshing[session_id]

    async def _refresh(
        self, held: _Held, refresher: IdTokenRefresher, stored_refresh_token: str
    ) -> str | None:
        refresh_token = decrypt_text(
            self._cipher, stored_refresh_token, what="an NHS login refresh token"
        )
        try:
            refreshed = await refresher.refresh_id_token(refresh_token, sub=held.sub, vot=held.vot)
        except RefreshRefused:
            # Dead: asking again would only be refused again. The patient signs in again.
            await self._store(held, refreshed=None)
            logger.info("NHS login refused a refresh: session %s signs in again", held.session_id)
            return None
        except NHSLoginUnavailable:
            # Not the patient's doing, and signing in needs NHS login too: try again soon.
            raise GPSystemUnavailable(supplier_code="NHS_LOGIN_REFRESH_UNAVAILABLE") from None
        if not await self._store(held, refreshed=refreshed):
            # Another instance refreshed first, or the session ended meanwhile.
            again = await self._find(self._session(held.session_id))
            return None if again is None else self._usable(again, None)
        logger.info("NHS login ID token refreshed for session %s", held.session_id)
        return refreshed.id_token

    async def _store(self, held: _Held, *, refreshed: RefreshedIdToken | None) -> bool:
        """Keep the fresh ID token (and the rotated refresh token), or with None forget
        the refresh token; only if the row still holds the refresh token used, so that
        a concurrent refresh elsewhere is never overwritten. False if it did not."""
        if refreshed is None:
            values: dict[str, object] = {"nhs_login_refresh_token_encrypted": None}
        else:
            rotated = refreshed.refresh_token
            values = {
                "nhs_login_id_token_encrypted": encrypt_text(self._cipher, refreshed.id_token),
                "nhs_login_id_token_expires_at": refreshed.expires_at,
                "nhs_login_refresh_token_encrypted": (
                    held.refresh_token if rotated is None else encrypt_text(self._cipher, rotated)
                ),
            }
        async with self._sessionmaker() as db:
            result = await db.execute(
                update(AuthSession)
                .where(
                    AuthSession.id == held.session_id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.nhs_login_refresh_token_encrypted == held.refresh_token,
                )
                .values(values)
            )
            await db.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]
