"""The sandbox GP systems' own Alembic history (`sandbox_alembic_version`), apart from the app's.

`app.adapters.sandbox.schema.upgrade` applies it; `alembic -n sandbox revision
--autogenerate -m "..."` adds a revision.
"""
