"""The audit trail: who did what, for whom; hash-chained and append-only.

- `service.record(session, event, clock=...)` appends an `AuditEvent` inside the
  caller's transaction, so an action and its audit row commit together.
- `service.list_for_patient` answers "who has viewed or acted on my record".
- `chain.verify_chain` (and `python -m app.audit verify`) finds the first row
  that was changed, deleted or reordered after it was written.

Entries hold no free text, clinical content, NHS numbers or names: only closed
enums, booleans, timestamps and bounded opaque ids (see `types`). Appends are
serialised (a PostgreSQL advisory lock, SQLite's single writer) so concurrent
requests never fork the chain.
"""
