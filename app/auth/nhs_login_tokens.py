"""The patient's NHS login ID token at rest, for GP Connect's patient-facing APIs.

Those APIs take the patient's own access token, which the NHS API platform issues in
exchange for their NHS login ID token (docs/decisions/0007). The ID token is a bearer
credential for the patient, so it is kept like the GP credentials: Fernet-encrypted with
GP_CREDENTIALS_KEY, with the session it came from, and only from a P9 sign-in (the APIs
refuse anything less). It is unusable once the session ends or the token expires.
"""

from __future__ import annotations

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.credentials import decrypt_text
from app.auth.models import Account, AuthSession
from app.clock import Clock


class SessionIdTokens:
    """`NHSLoginIdTokens` over the app's database: the ID token of the patient's newest
    live session that still holds an unexpired one."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], cipher: MultiFernet, clock: Clock
    ) -> None:
        self._sessionmaker = sessionmaker
        self._cipher = cipher
        self._clock = clock

    async def id_token_for(self, nhs_number: str) -> str | None:
        now = self._clock.now()
        query = (
            select(AuthSession.nhs_login_id_token_encrypted)
            .join(Account, Account.id == AuthSession.account_id)
            .where(
                Account.nhs_number == nhs_number,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.nhs_login_id_token_encrypted.is_not(None),
                AuthSession.nhs_login_id_token_expires_at > now,
            )
            .order_by(AuthSession.created_at.desc())
            .limit(1)
        )
        async with self._sessionmaker() as db:
            stored = await db.scalar(query)
        if not stored:
            return None
        return decrypt_text(self._cipher, stored, what="an NHS login ID token")
