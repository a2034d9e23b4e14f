"""Tables for accounts and sessions."""
