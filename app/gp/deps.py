"""The GP system registry as a dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.gp.registry import GPSystemRegistry


async def get_gp_registry(request: Request) -> GPSystemRegistry:
    registry: GPSystemRegistry = request.app.state.gp_registry
    return registry


GPRegistryDep = Annotated[GPSystemRegistry, Depends(get_gp_registry)]
