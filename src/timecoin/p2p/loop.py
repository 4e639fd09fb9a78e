"""Event-loop selection: uvloop when it is installed, asyncio's loop otherwise."""

from __future__ import annotations

import asyncio
import importlib

__all__ = ["install_uvloop"]


def install_uvloop() -> bool:
    """Make uvloop the event-loop policy if it is importable; return whether it is.

    Call before the loop is created (the node's entry point). The p2p code
    runs unchanged on either loop.
    """
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
