"""Check and normalise what users ask us to remember, before it reaches the database.

Values are stored through bound parameters only, so quotes or SQL fragments are
harmless text; these checks exist so that what we keep is something a person
would call a name or a preference, and so the user gets a clear reason otherwise.
"""
from __future__ import annotations

import re
import unicodedata

from bot.profiles.models import CATEGORIES, NAME_MAX_CHARS, VALUE_MAX_CHARS


class InvalidProfileValue(ValueError):
    """A name, category or preference we refuse to store; ``str()`` is user-facing."""


def _clean_text(value: object, what: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise InvalidProfileValue(f"That {what} isn't text, so I can't remember it.")
    # NFC so that "é" typed two ways is one value; control characters (NUL, escape
    # sequences, line breaks) never belong in a name and break some databases.
    text = unicodedata.normalize("NFC", value)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == "\u200d")
    text = " ".join(text.split())
    if not text:
        raise InvalidProfileValue(f"That {what} is empty, so there's nothing to remember.")
    if len(text) > max_chars:
        raise InvalidProfileValue(
            f"That {what} is {len(text)} characters long; I can remember up to {max_chars}."
        )
    return text


def clean_name(value: object) -> str:
    """A display name: printable text, whitespace collapsed, at most 100 characters."""
    return _clean_text(value, "name", NAME_MAX_CHARS)


def clean_value(value: object) -> str:
    """A preference value such as "sci-fi" or "jazz", at most 200 characters."""
    return _clean_text(value, "preference", VALUE_MAX_CHARS)


# "movies" or "Books" name a category as well as "movie" does.
_CATEGORY_FORMS = {**{c: c for c in CATEGORIES}, **{c + "s": c for c in CATEGORIES}, "activities": "activity"}


def clean_category(value: object) -> str:
    """One of movie, book, music, food, activity (case-insensitive, plurals allowed)."""
    if isinstance(value, str) and value.strip().lower() in _CATEGORY_FORMS:
        return _CATEGORY_FORMS[value.strip().lower()]
    shown = f"'{value}'" if isinstance(value, str) and len(value) <= 40 else "that"
    raise InvalidProfileValue(
        f"I can only remember preferences for {', '.join(CATEGORIES[:-1])} and {CATEGORIES[-1]}, "
        f"not {shown}."
    )


# BCP 47 in the shape people use: "en", "pt-BR", "zh-Hant".
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")


def clean_language(value: object) -> str:
    """A language tag such as "en" or "pt-BR"."""
    if not isinstance(value, str) or not _LANGUAGE_TAG.match(value.strip()):
        raise InvalidProfileValue(f"{value!r:.40} is not a language tag like 'en' or 'pt-BR'.")
    return value.strip()
