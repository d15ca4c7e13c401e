"""A fingerprint of the library code a Rasa component delegates its training to.

Rasa's training cache keys a component on its config, its inputs and the source of
its class, not on the modules that class calls, so a component retrained after an
upgrade of ``bot.nlu`` or ``bot.generation`` would come back from the cache as it was.
Each component adds its package's fingerprint to Rasa's (``fingerprint_addon``).
"""
from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def package_fingerprint(package: str) -> str:
    """A short hash of the Python sources of an imported package (``"bot.nlu"``)."""
    return source_fingerprint(Path(importlib.import_module(package).__file__).parent)


def source_fingerprint(directory: Path) -> str:
    """A short hash of every ``*.py`` file under ``directory``: names and contents."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.py")):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
