"""Repeat prescriptions: courses, requests, cancelling, and the nominated pharmacy."""
