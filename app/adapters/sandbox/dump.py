"""The whole simulated GP data as JSON-ready dictionaries (for `dump --json`)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import get_profile

# Table → key in the dump, in reading order.
_SECTIONS = {
    tables.pharmacies: "pharmacies",
    tables.patients: "patients",
    tables.relationships: "relationships",
    tables.slots: "slots",
    tables.appointments: "appointments",
    tables.courses: "courses",
    tables.prescription_requests: "prescription_requests",
    tables.record_entries: "record_entries",
    tables.documents: "documents",
    tables.messages: "messages",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


async def dump(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:

        async def rows(table: Table, *order: Any) -> list[dict[str, Any]]:
            result = await connection.execute(select(table).order_by(*order))
            return [
                {key: _jsonable(value) for key, value in row._mapping.items()} for row in result
            ]

        meta = {row["key"]: row["value"] for row in await rows(tables.meta, tables.meta.c.key)}
        reasons = await rows(tables.cancellation_reasons, *tables.cancellation_reasons.primary_key)
        practices = []
        for practice in await rows(tables.practices, tables.practices.c.ods_code):
            profile = get_profile(practice["profile"])
            practice["cancellation_reasons"] = [
                {"code": reason.code, "text": reason.text}
                for reason in profile.fixed_cancellation_reasons
            ] + [
                {"code": r["code"], "text": r["text"]}
                for r in reasons
                if r["ods_code"] == practice["ods_code"]
            ]
            practice["supplier_codes"] = {k.value: v for k, v in profile.codes.items()}
            practices.append(practice)
        result: dict[str, Any] = {"meta": meta, "practices": practices}
        for table, key in _SECTIONS.items():
            result[key] = await rows(table, *table.primary_key)
        items = await rows(
            tables.prescription_request_items, *tables.prescription_request_items.primary_key
        )
    for patient in result["patients"]:
        patient["tags"] = patient["tags"].split()
    by_request: dict[str, list[tuple[int, str]]] = {}
    for item in items:
        by_request.setdefault(item["request_id"], []).append((item["position"], item["course_id"]))
    for request in result["prescription_requests"]:
        request["course_ids"] = [
            course for _, course in sorted(by_request.get(request["request_id"], []))
        ]
    for message in result["messages"]:
        message["attributes"] = json.loads(message["attributes"])
    for document in result["documents"]:
        document["data_base64"] = document.pop("data")
    return result
