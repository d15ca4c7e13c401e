"""Sanic 21.12 (pinned by rasa 3.6) websockets on Python 3.11.

``WebsocketImplProtocol.recv`` passes a coroutine to ``asyncio.wait``, which Python 3.11
forbids (``TypeError: Passing coroutines is forbidden``). Socket.IO clients start on
HTTP long-polling and then upgrade to a websocket; on this stack the upgrade crashed
and took the packet in flight with it (a page's ``session_confirm`` never arrived),
and websocket-only clients could not connect at all.

The fix gives that one module an ``asyncio`` whose ``wait`` wraps coroutines in tasks,
as Python < 3.11 did implicitly; everything else in it is the real ``asyncio``.
"""
from __future__ import annotations

import asyncio
from typing import Any, Iterable

import sanic.server.websockets.impl as sanic_websockets


class _AsyncioWaitingOnCoroutines:
    """``asyncio``, with ``wait`` accepting coroutines again."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def wait(aws: Iterable[Any], **kwargs: Any) -> Any:
        return await asyncio.wait([asyncio.ensure_future(aw) for aw in aws], **kwargs)


def allow_sanic_websockets_on_python_311() -> None:
    """Apply the fix above (idempotent)."""
    if not isinstance(sanic_websockets.asyncio, _AsyncioWaitingOnCoroutines):
        sanic_websockets.asyncio = _AsyncioWaitingOnCoroutines()  # type: ignore[assignment]
