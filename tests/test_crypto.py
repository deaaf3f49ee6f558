"""tracker.crypto, the encryption of stored credentials: pure, no app needed."""
import pytest
from cryptography.fernet import Fernet

from tracker.crypto import (
    PREFIX,
    Keyring,
    Undecryptable,
    derive_key,
    is_encrypted,
    parse_key,
    split_keys,
)

URL = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN0123456789"


def test_round_trip_and_the_stored_form_hides_the_value():
    ring = Keyring([Fernet.generate_key()])
    stored = ring.encrypt(URL)
    assert stored.startswith(PREFIX) and is_encrypted(stored)
    assert "TOKEN0123456789" not in stored and "dingtalk" not in stored
    assert ring.decrypt(stored) == URL
    assert ring.encrypt(URL) != stored  # a fresh IV each time
    assert ring.decrypt(ring.encrypt("签名密钥")) == "签名密钥"


def test_legacy_plain_text_is_read_as_it_is():
    ring = Keyring([Fernet.generate_key()])
    assert not is_encrypted(URL)
    assert ring.decrypt(URL) == URL
    assert ring.decrypt("SECabc") == "SECabc"


def test_another_key_or_a_tampered_value_is_undecryptable():
    stored = Keyring([Fernet.generate_key()]).encrypt("SECabc")
    with pytest.raises(Undecryptable):
        Keyring([Fernet.generate_key()]).decrypt(stored)
    ring = Keyring([Fernet.generate_key()])
    stored = ring.encrypt("SECabc")
    at = len(PREFIX) + 30  # inside the IV: the HMAC no longer matches
    tampered = stored[:at] + ("A" if stored[at] != "A" else "B") + stored[at + 1:]
    for bad in (tampered, PREFIX + "not a token", PREFIX + "令牌", PREFIX):
        with pytest.raises(Undecryptable):
            ring.decrypt(bad)


def test_rotation_old_keys_decrypt_the_first_key_encrypts():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = Keyring([old]).encrypt("SECabc")
    rotated = Keyring([new, old])
    assert rotated.decrypt(before) == "SECabc"
    after = rotated.encrypt("SECabc")
    assert Keyring([new]).decrypt(after) == "SECabc"
    with pytest.raises(Undecryptable):
        Keyring([old]).decrypt(after)


def test_the_key_derived_from_secret_key_is_stable_and_specific():
    assert derive_key("s3cret") == derive_key("s3cret")
    assert derive_key("s3cret") != derive_key("s3cret2")
    Fernet(derive_key("s3cret"))  # a valid Fernet key
    assert derive_key("s3cret") != parse_key(Fernet.generate_key().decode(), "X")


def test_from_settings_without_a_dedicated_key_uses_secret_key():
    stored = Keyring.from_settings(None, "", "s3cret").encrypt("SECabc")
    assert Keyring([derive_key("s3cret")]).decrypt(stored) == "SECabc"
    with pytest.raises(Undecryptable):
        Keyring.from_settings(None, "", "another").decrypt(stored)


def test_a_dedicated_key_encrypts_and_what_secret_key_encrypted_stays_readable():
    earlier = Keyring.from_settings(None, None, "s3cret").encrypt("SECabc")
    key = Fernet.generate_key().decode()
    ring = Keyring.from_settings(key, None, "s3cret")
    assert ring.decrypt(earlier) == "SECabc"
    assert Keyring([key.encode()]).decrypt(ring.encrypt("x")) == "x"
    # Old keys, comma-separated, still decrypt.
    old = Fernet.generate_key().decode()
    by_old = Keyring([old.encode()]).encrypt("y")
    assert Keyring.from_settings(key, f" {old} , ", "s3cret").decrypt(by_old) == "y"


def test_an_old_key_never_encrypts_even_without_a_dedicated_key():
    """Going back to the derived key (or an empty DATA_ENCRYPTION_KEY) while an old key is
    still listed: new values must be encrypted with the derived key, so that dropping the
    old key afterwards, as the README says, loses nothing."""
    old = Fernet.generate_key().decode()
    for key in (None, "", "  "):
        stored = Keyring.from_settings(key, old, "s3cret").encrypt("SECabc")
        assert Keyring([derive_key("s3cret")]).decrypt(stored) == "SECabc"
        with pytest.raises(Undecryptable):
            Keyring([old.encode()]).decrypt(stored)


@pytest.mark.parametrize("setting,value", [
    ("DATA_ENCRYPTION_KEY", "too-short"),
    ("DATA_ENCRYPTION_KEY", "x" * 44),
    ("DATA_ENCRYPTION_OLD_KEYS", "not-a-key-at-all"),
])
def test_a_malformed_key_names_the_setting_and_never_the_value(setting, value):
    good = Fernet.generate_key().decode()
    key, old = (value, "") if setting == "DATA_ENCRYPTION_KEY" else (good, f"{good},{value}")
    with pytest.raises(ValueError) as info:
        Keyring.from_settings(key, old, "s3cret")
    message = str(info.value)
    assert message.startswith(f"{setting} must be a Fernet key")
    assert value not in message and good not in message
    assert "\n" not in message


def test_split_keys():
    assert split_keys(None) == [] and split_keys("") == [] and split_keys(" , ") == []
    assert split_keys("a, b,") == ["a", "b"]
    assert split_keys(["a", " ", "b "]) == ["a", "b"]
