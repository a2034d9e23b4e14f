"""`SandboxGPSystem`: the port over one practice's simulated supplier.

The adapter's job is the one a real adapter has: call the supplier, translate
its error codes into the port's domain errors (keeping the code in
`supplier_code`), turn a broken connection into `GPSystemUnavailable`, and a
value its database would not take into a refusal.
It also injects the configured faults, or those switched for every process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import TypeVar

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from app.adapters.sandbox.access_changes import SandboxSupplier
from app.adapters.sandbox.database import SandboxDatabase
from app.adapters.sandbox.faults import SandboxFaults, switched_faults
from app.adapters.sandbox.profiles import Refusal, SupplierProfile, domain_error
from app.adapters.sandbox.supplier import SupplierError
from app.gp.delegate import CallKind, DelegatingGPSystem
from app.gp.errors import GPSystemUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SandboxGPSystem(DelegatingGPSystem):
    """One practice's simulated GP system, behind the `GPSystem` port."""

    def __init__(
        self,
        supplier: SandboxSupplier,
        database: SandboxDatabase,
        faults: SandboxFaults,
    ) -> None:
        super().__init__(supplier)
        self.supplier = supplier
        self.database = database
        self.faults = faults

    @property
    def profile(self) -> SupplierProfile:
        return self.supplier.profile

    async def _call(self, kind: CallKind, operation: Callable[[], Awaitable[T]]) -> T:
        unavailable = self.profile.code(Refusal.UNAVAILABLE)
        try:
            await self.database.ensure_ready()
            switched = await switched_faults(self.database.engine, self.supplier.ods_code)
            await self.faults.inject(unavailable, switched)
            return await operation()
        except SupplierError as exc:
            raise domain_error(self.profile, exc.code, exc.course_id) from None
        except (SQLAlchemyError, OSError, UnicodeError) as exc:
            if refused_what_was_sent(exc):
                logger.info(
                    "sandbox GP system database refused a value",
                    extra={"ods_code": self.ods_code, "error": type(exc).__name__},
                )
                invalid = self.profile.code(Refusal.INVALID_REQUEST)
                raise domain_error(self.profile, invalid) from None
            logger.warning(
                "sandbox GP system database error",
                extra={"ods_code": self.ods_code, "error": type(exc).__name__},
            )
            raise GPSystemUnavailable(supplier_code=unavailable) from exc

    async def _stream(self, chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """A document's chunks, with a refusal or a broken connection part way translated
        as for a call."""
        try:
            async for chunk in chunks:
                yield chunk
        except SupplierError as exc:
            raise domain_error(self.profile, exc.code, exc.course_id) from None
        except (SQLAlchemyError, OSError) as exc:
            logger.warning(
                "sandbox GP system database error part way through a document",
                extra={"ods_code": self.ods_code, "error": type(exc).__name__},
            )
            unavailable = self.profile.code(Refusal.UNAVAILABLE)
            raise GPSystemUnavailable(supplier_code=unavailable) from exc
        finally:
            await chunks.aclose()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The error, the driver's error it wraps, and what caused each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__


def refused_what_was_sent(exc: BaseException) -> bool:
    """Whether the database refused a value the call carried: too long for its column,
    not text it can encode, a broken constraint (SQLSTATE classes 22 and 23).

    That is the simulated system's "bad request", a refusal: an outage would count
    towards the practice's circuit breaker, and one patient's input must never open it.
    """
    for cause in _causes(exc):
        if isinstance(cause, DataError | IntegrityError | UnicodeError):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in {"22", "23"}:
            return True
    return False


def find_sandbox(system: object) -> SandboxGPSystem:
    """The sandbox adapter inside a registry's wrapped system (for tests and demos).

    `find_sandbox(registry.for_practice("A81001")).faults.outage = True`.
    Raises `LookupError` when the practice is not served by the sandbox.
    """
    current: object | None = system
    while current is not None:
        if isinstance(current, SandboxGPSystem):
            return current
        current = getattr(current, "_inner", None)
    raise LookupError("that practice is not served by the sandbox adapter")
