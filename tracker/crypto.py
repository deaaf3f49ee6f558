"""Encryption of stored credentials (group robots' webhook URLs and signing secrets).

Pure logic, no Flask: the app builds one ``Keyring`` from its settings at start-up and
the ``EncryptedText`` column type (``tracker.models.base``) uses it.

A stored value is ``fernet:`` followed by a Fernet token (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` package). A value without the prefix was written
before encryption existed: it is read as plain text and encrypted the next time it is
saved. The first key encrypts; every key decrypts (``MultiFernet``), so a key can be
rotated: make the new key the first, keep the old one among the old keys, re-save
everything (``flask tracker encrypt-secrets``), then drop it.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "fernet:"
# Fixed context for the key derived from SECRET_KEY: a different use of the same secret
# gets an unrelated key. Changing it makes every stored value unreadable.
DERIVATION_INFO = b"plan-tracker: stored credentials encryption key v1"
KEY_HINT = ("a Fernet key: 32 random bytes in URL-safe base64, 44 characters; make one with "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'")


class Undecryptable(Exception):
    """No configured key decrypts this value (the key changed, or it was tampered with)."""


class Unreadable:
    """Loaded in place of a stored value that no configured key can decrypt.

    Not a string, so it can never be sent, signed with or saved by mistake; code that
    shows or uses credentials asks ``is_unreadable`` first."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE = Unreadable()


def is_unreadable(value: object) -> bool:
    return isinstance(value, Unreadable)


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from SECRET_KEY with HKDF-SHA256 and a fixed context."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=DERIVATION_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


def parse_key(value: str, name: str) -> bytes:
    """Check a configured key; the error names the setting, never the value."""
    key = value.strip().encode()
    try:
        Fernet(key)
    except (ValueError, binascii.Error):
        raise ValueError(f"{name} must be {KEY_HINT}") from None
    return key


def split_keys(value: str | Iterable[str] | None) -> list[str]:
    """"k1, k2" or ["k1", "k2"] → ["k1", "k2"] (blank entries dropped)."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    return [p.strip() for p in parts if p and p.strip()]


class Keyring:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: Iterable[bytes]):
        unique = list(dict.fromkeys(keys))
        if not unique:
            raise ValueError("a keyring needs at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in unique])

    @classmethod
    def from_settings(cls, key: str | None, old_keys: str | Iterable[str] | None,
                      secret_key: str) -> Keyring:
        """``DATA_ENCRYPTION_KEY`` (if set) encrypts; the old keys and the key derived from
        ``SECRET_KEY`` still decrypt, so a deployment that relied on the derived key can
        move to its own key without losing what is stored. Raises ValueError naming the
        setting that is malformed."""
        if not secret_key:
            raise ValueError("SECRET_KEY must be set (it also derives the encryption key "
                             "when DATA_ENCRYPTION_KEY is not set)")
        derived = derive_key(secret_key)
        # The encrypting key comes first: the dedicated key, else the derived one — never
        # an old key, which the README tells operators they may drop after rotating.
        primary = parse_key(key, "DATA_ENCRYPTION_KEY") if key and key.strip() else derived
        old = [parse_key(k, "DATA_ENCRYPTION_OLD_KEYS") for k in split_keys(old_keys)]
        return cls([primary, *old, derived])

    def encrypt(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plain text of a stored value; legacy plain text is returned as it is."""
        if not is_encrypted(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise Undecryptable("no configured key decrypts this value") from None
