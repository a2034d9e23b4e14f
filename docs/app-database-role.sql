-- Grants for the PostgreSQL role GP Online serves with (not the role that owns the
-- tables and runs migrations). Run as the owner after every migration:
--
--   psql -v role=gp_online_app -f docs/app-database-role.sql "$OWNER_DATABASE_URL"
--
-- The service reads and writes its tables, but may never change or remove an audit
-- entry: the trail is append-only for it, whatever happens to the application.
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"role";
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM :"role";
