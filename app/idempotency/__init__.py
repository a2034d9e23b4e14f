"""Idempotency keys for bookings and prescription requests: a retry never acts twice."""
