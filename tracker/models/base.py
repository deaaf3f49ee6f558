"""Declarative base, naming convention, the UTC timestamp and the encrypted text types."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from tracker.crypto import UNREADABLE, Keyring, Undecryptable, is_unreadable

# Alembic names constraints the same way on SQLite and PostgreSQL only if we name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC; refuses naive input (ambiguous time)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def _keyring() -> Keyring:
    from flask import current_app

    return current_app.extensions["keyring"]


class EncryptedText(TypeDecorator):
    """Text stored encrypted with the app's keyring (``tracker.crypto``).

    Values written before encryption (no ``fernet:`` prefix) are read as they are and
    encrypted when next saved. A value no configured key decrypts loads as
    ``crypto.UNREADABLE`` rather than raising, so one such row never breaks a page or
    a sweep; saving it back is refused."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if is_unreadable(value):
            raise ValueError("an unreadable encrypted value cannot be saved; enter it again")
        return _keyring().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return _keyring().decrypt(value)
        except Undecryptable:
            return UNREADABLE
