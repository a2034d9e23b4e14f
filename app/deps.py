"""Dependencies shared by every domain: settings and the app-wide clients.

Dependencies that only read `request.app.state` are `async def`: FastAPI runs a plain
`def` dependency in a worker thread, a thread hop (and a wait for a free thread under
load) for what is an attribute lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
