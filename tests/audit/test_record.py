"""Recording events: one row per action, in the caller's transaction, with the request id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asgi_correlation_id import correlation_id
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.chain import GENESIS_HASH, verify_chain
from app.audit.models import AuditRecord
from app.audit.service import record
from app.audit.types import ACCOUNT_ACTIONS, AuditAction, AuditEvent, AuditOutcome
from app.gp.types import RelationshipKind
from tests.audit.conftest import PATIENT, PATIENT_ACCOUNT, PROXY_ACCOUNT
from tests.conftest import FakeClock


def event_for(action: AuditAction) -> AuditEvent:
    patient = None if action in ACCOUNT_ACTIONS else PATIENT
    return AuditEvent(action=action, actor_id=PATIENT_ACCOUNT, patient_id=patient)


async def rows(session: AsyncSession) -> list[AuditRecord]:
    return list((await session.scalars(select(AuditRecord).order_by(AuditRecord.sequence))).all())


@pytest.mark.parametrize("action", list(AuditAction))
async def test_each_action_writes_exactly_one_row(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock, action: AuditAction
) -> None:
    async with sessionmaker() as session:
        await record(session, event_for(action), clock=clock)
        await session.commit()

    async with sessionmaker() as session:
        [row] = await rows(session)
    assert row.action is action
    assert row.sequence == 1
    assert row.previous_hash == GENESIS_HASH
    assert row.occurred_at == clock.now()
    assert row.occurred_at.tzinfo is not None
    assert row.actor_id == PATIENT_ACCOUNT
    assert row.patient_id == (None if action in ACCOUNT_ACTIONS else PATIENT)
    assert row.outcome is AuditOutcome.SUCCEEDED


async def test_a_proxy_action_records_who_acted_and_for_whom(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    event = AuditEvent(
        action=AuditAction.PRESCRIPTION_REQUESTED,
        actor_id=PROXY_ACCOUNT,
        patient_id=PATIENT,
        on_behalf=True,
        relationship_kind=RelationshipKind.CARER,
        target="req-course-17",
    )
    async with sessionmaker() as session:
        await record(session, event, clock=clock)
        await session.commit()
        [row] = await rows(session)
    assert (row.actor_id, row.patient_id, row.on_behalf) == (PROXY_ACCOUNT, PATIENT, True)
    assert row.relationship_kind is RelationshipKind.CARER
    assert row.target == "req-course-17"


async def test_the_request_id_comes_from_the_current_request(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    token = correlation_id.set("3f2c9a1e5b7d4c8e")
    try:
        async with sessionmaker() as session:
            await record(session, event_for(AuditAction.SIGN_IN), clock=clock)
            given = event_for(AuditAction.SIGN_OUT).model_copy(update={"request_id": "given-id"})
            await record(session, given, clock=clock)
            await session.commit()
            first, second = await rows(session)
    finally:
        correlation_id.reset(token)
    assert first.request_id == "3f2c9a1e5b7d4c8e"
    assert second.request_id == "given-id"


async def test_outside_a_request_there_is_no_request_id(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with sessionmaker() as session:
        await record(session, event_for(AuditAction.SIGN_IN), clock=clock)
        await session.commit()
        [row] = await rows(session)
    assert row.request_id is None


async def test_the_row_commits_and_rolls_back_with_the_callers_work(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with sessionmaker() as session:
        await record(session, event_for(AuditAction.APPOINTMENT_BOOKED), clock=clock)
        await session.rollback()  # the booking failed: no audit row either
    async with sessionmaker() as session:
        await record(session, event_for(AuditAction.APPOINTMENT_BOOKED), clock=clock)
        await record(session, event_for(AuditAction.APPOINTMENT_CANCELLED), clock=clock)
        await session.commit()

    async with sessionmaker() as session:
        written = await rows(session)
        assert [row.sequence for row in written] == [1, 2]
        assert (await verify_chain(session)).ok


async def test_times_are_stored_in_utc(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    local = datetime(2026, 7, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    async with sessionmaker() as session:
        await record(session, event_for(AuditAction.SIGN_IN), clock=FakeClock(local))
        await session.commit()
    async with sessionmaker() as session:
        [row] = await rows(session)
        assert row.occurred_at == local
        assert row.occurred_at.utcoffset() == timedelta(0)
        assert row.occurred_at.astimezone(UTC).hour == 8
        assert (await verify_chain(session)).ok


async def test_a_naive_clock_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    naive = FakeClock(datetime(2026, 7, 1, 9, 30))
    async with sessionmaker() as session:
        with pytest.raises(StatementError, match="naive datetimes are not stored"):
            await record(session, event_for(AuditAction.SIGN_IN), clock=naive)
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(AuditRecord)) == 0


def test_no_unbounded_text_columns() -> None:
    """Every text column is bounded; there is nowhere to put a note or clinical text."""
    for column in AuditRecord.__table__.columns:
        length = getattr(column.type, "length", None)
        if column.type.python_type is str or length is not None:
            assert length is not None and length <= 128, column.name


# --- what an event may hold -----------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    [
        "9434765919",  # an NHS number
        "Jane Smith",  # a name
        "pain in the left knee",  # free text
        "",
        "x" * 129,
        "a\nb",
        "<script>",
        "-leading-dash",
    ],
)
@pytest.mark.parametrize("field", ["actor_id", "patient_id"])
def test_person_ids_must_be_opaque(field: str, bad_id: str) -> None:
    values = {"action": AuditAction.SIGN_IN, "actor_id": PATIENT_ACCOUNT, field: bad_id}
    with pytest.raises(ValidationError):
        AuditEvent.model_validate(values)


@pytest.mark.parametrize("bad_target", ["Smith, Jane", "pain in the left knee", "x" * 129, ""])
def test_targets_must_be_opaque(bad_target: str) -> None:
    with pytest.raises(ValidationError):
        AuditEvent(
            action=AuditAction.DOCUMENT_OPENED,
            actor_id=PATIENT_ACCOUNT,
            patient_id=PATIENT,
            target=bad_target,
        )


def test_unknown_fields_and_actions_are_refused() -> None:
    with pytest.raises(ValidationError):
        AuditEvent.model_validate(
            {"action": "sign_in", "actor_id": PATIENT_ACCOUNT, "note": "anything"}
        )
    with pytest.raises(ValidationError):
        AuditEvent.model_validate({"action": "read_diary", "actor_id": PATIENT_ACCOUNT})


def test_actions_on_a_record_need_the_patient() -> None:
    with pytest.raises(ValidationError, match="needs the patient"):
        AuditEvent(action=AuditAction.RECORD_SECTION_VIEWED, actor_id=PATIENT_ACCOUNT)


@pytest.mark.parametrize(
    ("on_behalf", "kind"),
    [
        (True, None),
        (True, RelationshipKind.SELF),
        (False, RelationshipKind.PARENT),
    ],
)
def test_on_behalf_and_relationship_agree(on_behalf: bool, kind: RelationshipKind | None) -> None:
    with pytest.raises(ValidationError):
        AuditEvent(
            action=AuditAction.APPOINTMENT_BOOKED,
            actor_id=PROXY_ACCOUNT,
            patient_id=PATIENT,
            on_behalf=on_behalf,
            relationship_kind=kind,
        )


def test_a_refused_id_is_not_echoed_in_the_error() -> None:
    # The 500 handler logs the exception: the NHS number it refused must not be in it.
    with pytest.raises(ValidationError) as refused:
        AuditEvent(action=AuditAction.SIGN_IN, actor_id="9434765919")
    assert "9434765919" not in str(refused.value)
