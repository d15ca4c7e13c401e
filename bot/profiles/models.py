"""Database tables of the profile store.

A *user* is a person; an *identity* is how a channel names them (the same person
may write from Slack, Telegram and the web, each with its own sender id). Every
change to a profile leaves a row in ``profile_changes``, so a user can be told
what changed and when. Deleting a user deletes all of it (forget-me).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import List, Optional

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

CATEGORIES = ("movie", "book", "music", "food", "activity")
NAME_MAX_CHARS = 100
VALUE_MAX_CHARS = 200
CHANNEL_MAX_CHARS = 64
SENDER_MAX_CHARS = 255  # as Rasa's tracker store column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    display_name = Column(String(NAME_MAX_CHARS), nullable=True)
    language = Column(String(16), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    identities: List["Identity"] = relationship(
        "Identity", back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    preferences: List["Preference"] = relationship(
        "Preference", back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    changes: List["ProfileChange"] = relationship(
        "ProfileChange", back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "sender_id", name="uq_identity_channel_sender"),)

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    channel = Column(String(CHANNEL_MAX_CHARS), nullable=False)
    sender_id = Column(String(SENDER_MAX_CHARS), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    user: User = relationship("User", back_populates="identities")


class Preference(Base):
    __tablename__ = "preferences"
    __table_args__ = (UniqueConstraint("user_id", "category", name="uq_preference_user_category"),)

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    category = Column(String(16), nullable=False)
    value = Column(String(VALUE_MAX_CHARS), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    user: User = relationship("User", back_populates="preferences")


class ProfileChange(Base):
    """One audited change: which field, from what, to what, through which identity."""

    __tablename__ = "profile_changes"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # "name", "language" or "preference:<category>"
    field = Column(String(32), nullable=False)
    old_value: Optional[str] = Column(Text, nullable=True)
    new_value: Optional[str] = Column(Text, nullable=True)
    channel = Column(String(CHANNEL_MAX_CHARS), nullable=True)
    sender_id = Column(String(SENDER_MAX_CHARS), nullable=True)
    changed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    user: User = relationship("User", back_populates="changes")
