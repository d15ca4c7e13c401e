"""User profiles: who a sender is and what they like, on SQLAlchemy with Alembic migrations.

    store = ProfileStore()            # PROFILE_DB_URL, else var/profiles.db
    store.set_preference("rest", "alice", "movie", "sci-fi")
    store.get("rest", "alice").preferences   # {"movie": "sci-fi"}
    store.forget("rest", "alice")
"""
from bot.profiles.models import CATEGORIES
from bot.profiles.settings import ProfileSettings, ProfileSettingsError
from bot.profiles.store import Change, Profile, ProfileStore, ProfileStoreUnavailable
from bot.profiles.validation import InvalidProfileValue

__all__ = [
    "CATEGORIES",
    "Change",
    "InvalidProfileValue",
    "Profile",
    "ProfileSettings",
    "ProfileSettingsError",
    "ProfileStore",
    "ProfileStoreUnavailable",
]
