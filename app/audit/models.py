"""Tables for the audit trail."""
