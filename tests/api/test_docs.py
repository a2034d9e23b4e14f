"""Swagger UI and ReDoc work with no internet: every asset is served locally."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_uses_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    references = [a or b for a, b in ASSET.findall(html)]
    assert references, "the page references no assets at all"
    for reference in references:
        parts = urlsplit(reference)
        assert not parts.scheme and not parts.netloc, f"external reference: {reference}"
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
    assert "fonts.googleapis" not in html and "cdn" not in html.lower()


async def test_swagger_ui_does_not_call_the_online_validator(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assert "/docs-assets/swagger-init.js" in html
    script = (await client.get("/docs-assets/swagger-init.js")).text
    assert "validatorUrl: null" in script
