"""The audit trail: who did what, for whom; hash-chained and append-only."""
