"""Messages to the practice, kept as the practice's system would receive them."""

from __future__ import annotations

import json
import uuid

from app.adapters.sandbox import tables
from app.adapters.sandbox.supplier.base import SupplierBase
from app.gp.types import PracticeMessage

t = tables


class MessagesMixin(SupplierBase):
    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        message_id = f"{self.ods_code}-M-{uuid.uuid4().hex[:12]}"
        async with self._engine.begin() as connection:
            await self._patient(connection, patient_ref)
            await connection.execute(
                t.messages.insert().values(
                    message_id=message_id,
                    ods_code=self.ods_code,
                    patient_ref=patient_ref,
                    kind=message.kind.value,
                    subject=message.subject,
                    body=message.body,
                    actor_ref=message.actor_ref,
                    attributes=json.dumps(message.attributes, sort_keys=True),
                    received_at=self._now(),
                )
            )
        return message_id
