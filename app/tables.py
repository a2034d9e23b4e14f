"""Imports every module that declares app tables, so `Base.metadata` is complete.

Alembic's env and the test fixtures import this; add new domain `models`
modules here.
"""

import app.access_requests.models
import app.audit.models
import app.auth.models
import app.idempotency.models
import app.records.models
from app.db import Base

metadata = Base.metadata

__all__ = ["app", "metadata"]
