"""The GP system port: what every feature may ask of a practice's clinical system.

Nothing outside `app/adapters/` knows which supplier a practice uses.
"""
