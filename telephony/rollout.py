"""A rolling model update across replicas: one at a time loads the new `models/current`.

Each replica hot-reloads (`POST /admin/reload`, telephony/reload.py): calls in progress keep their
dialogue state and go on, so no call is dropped or moved. Replicas reload one after another, each only
once the previous one answers `/readyz` again, so the loading (seconds of CPU per model) never slows
every replica at once. For a new version of the code (not only the models) restart them one at a time
instead: SIGTERM drains a replica, its calls move to the others (telephony/drain.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from telephony import TelephonyError


class RolloutError(TelephonyError):
    """A replica refused the reload or did not become ready again; the ones after it were not touched."""


async def status(urls: Sequence[str], http: httpx.AsyncClient | None = None) -> list[dict[str, Any]]:
    """Each replica's /readyz answer (or why it gave none)."""
    async with _client(http) as client:

        async def one(url: str) -> dict[str, Any]:
            try:
                response = await client.get(url.rstrip("/") + "/readyz", timeout=5)
                return {"replica": url, "status": response.status_code, **response.json()}
            except (httpx.HTTPError, ValueError) as exc:
                return {"replica": url, "status": None, "error": str(exc)}

        return list(await asyncio.gather(*(one(u) for u in urls)))


async def rolling_reload(
    urls: Sequence[str],
    admin_token: str,
    *,
    http: httpx.AsyncClient | None = None,
    ready_timeout: float = 900.0,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    version: str | None = None,
) -> list[dict[str, Any]]:
    """Reload `urls` one by one; per replica its new version, its live calls and the seconds it took.

    `version`: the version each replica must serve (one lacking it fetches it from the model store);
    None: each loads what its own `models/current` names."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    body = {"json": {"version": version}} if version else {}
    results = []
    async with _client(http) as client:
        for url in urls:
            base, started = url.rstrip("/"), time.monotonic()
            try:
                response = await client.post(
                    base + "/admin/reload", headers=headers, timeout=ready_timeout, **body
                )
            except httpx.HTTPError as exc:
                raise RolloutError(f"{url}: reload failed: {exc}") from exc
            if response.status_code != 200:
                raise RolloutError(f"{url}: reload answered {response.status_code}: {response.text[:200]}")
            await _ready(client, base, started + ready_timeout)
            done = {**response.json(), "replica": url, "seconds": round(time.monotonic() - started, 1)}
            results.append(done)
            if on_done is not None:
                on_done(done)
    return results


async def _ready(client: httpx.AsyncClient, base: str, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        try:
            response = await client.get(base + "/readyz", timeout=5)
            if response.status_code == 200:
                return
            last = response.text[:200]
        except httpx.HTTPError as exc:
            last = str(exc)
        await asyncio.sleep(0.5)
    raise RolloutError(f"{base}: not ready after the reload: {last}")


class _client:
    def __init__(self, http: httpx.AsyncClient | None) -> None:
        self.http, self.own = http, http is None

    async def __aenter__(self) -> httpx.AsyncClient:
        if self.http is None:
            self.http = httpx.AsyncClient()
        return self.http

    async def __aexit__(self, *exc: object) -> None:
        if self.own and self.http is not None:
            await self.http.aclose()
