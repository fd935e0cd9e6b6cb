"""Field-level encryption and keyed lookup hashes for personal data at rest.

Values such as citizens' ID numbers and phone numbers are stored as text
tokens ``enc1:<alg>:<base64url(nonce | ciphertext | tag)>`` (no padding):

* ``enc1:aes:`` -- AES-256-GCM (profile ``"aes-gcm"``, the default);
* ``enc1:sm4:`` -- SM4-GCM (profile ``"sm4"``, for 密评 / GB/T 39786).

Both use a fresh random 96-bit nonce per value and a 128-bit tag. The
algorithm is read from the token, so a deployment may switch profile and
still read old values. SM4-GCM was chosen over SM4-CTR + HMAC-SM3 because
it is a standard AEAD (GB/T 36624, RFC 8998) and the linked OpenSSL
supports it; :class:`FieldCipher` refuses the ``"sm4"`` profile with a
:class:`CryptoError` where it does not, rather than falling back silently.

An optional ``context`` (e.g. ``"cases.applicant_id_number"``) is bound in
as associated data, so a token copied to another column fails to decrypt.

Equality lookups use :meth:`FieldCipher.keyed_hash`: HMAC-SHA256 under a
separate key over the normalised value. It is HMAC-SHA256 in both profiles
so that lookup columns stay valid across a profile switch.

Keys live outside the database in a JSON key file (:func:`load_keys`):
``{"enc": "<64 hex>", "mac": "<64 hex>"}``. AES uses ``enc`` directly; the
SM4 key (16 bytes) is derived from it with HKDF-SM3.

After a rotation (``bangban keys rotate-data``, :mod:`core.ops.keys`) the
file also lists the earlier keys, newest first, under ``"previous"``: new
values are encrypted under the current key, and a token that does not
open under it is tried under each earlier one (:func:`load_keyring`). The
earlier keys stay: audit payloads keep the tokens they were MACed with.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc1:"
PROFILES = {"aes-gcm": "aes", "sm4": "sm4"}
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_LOOKUP_KINDS = {"id_number": "id_number", "mobile": "phone", "phone": "phone"}


class CryptoError(Exception):
    """A token cannot be decrypted (tampered, wrong key or context) or a key is unusable."""


@dataclass(frozen=True)
class Keys:
    """Encryption and lookup (MAC) keys, 32 bytes each; never shown in repr."""

    enc: bytes = field(repr=False)
    mac: bytes = field(repr=False)

    def __post_init__(self):
        if len(self.enc) != KEY_SIZE or len(self.mac) != KEY_SIZE:
            raise CryptoError(f"keys must be {KEY_SIZE} bytes each")
        if hmac.compare_digest(self.enc, self.mac):
            raise CryptoError("the enc and mac keys must differ")

    @classmethod
    def generate(cls) -> "Keys":
        return cls(secrets.token_bytes(KEY_SIZE), secrets.token_bytes(KEY_SIZE))


def load_keys(path, *, create: bool = False) -> Keys:
    """Read the JSON key file at ``path``.

    With ``create=True`` a missing file is created with fresh random keys and
    mode 0600 (atomically: if another process creates it first, that file is
    read). Without it, a missing file raises :class:`CryptoError`.
    """
    path = Path(path)
    if create and not path.exists():
        keys = Keys.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"enc": keys.enc.hex(), "mac": keys.mac.hex()}, f)
                f.write("\n")
            return keys
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Keys(bytes.fromhex(data["enc"]), bytes.fromhex(data["mac"]))
    except FileNotFoundError:
        raise CryptoError(f"key file {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as e:
        raise CryptoError(f"key file {path} is malformed: {e}") from None


def load_keyring(path, *, create: bool = False) -> tuple[Keys, list[Keys]]:
    """``(current keys, earlier keys newest first)`` from the key file."""
    current = load_keys(path, create=create)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        previous = [Keys(bytes.fromhex(k["enc"]), bytes.fromhex(k["mac"])) for k in data.get("previous", [])]
    except (ValueError, KeyError, TypeError) as e:
        raise CryptoError(f"key file {path} is malformed: {e}") from None
    return current, previous


def keyring_json(current: Keys, previous) -> str:
    """The key file's text for ``current`` and the earlier keys."""
    data = {"enc": current.enc.hex(), "mac": current.mac.hex()}
    if previous:
        data["previous"] = [{"enc": k.enc.hex(), "mac": k.mac.hex()} for k in previous]
    return json.dumps(data) + "\n"


def normalise(value: str, kind: str) -> str:
    """Canonical form for lookups: NFKC (full-width to ASCII), then
    ID numbers without whitespace and upper-case (x to X); phones digits only."""
    if kind not in _LOOKUP_KINDS:
        raise ValueError(f"unknown lookup kind {kind!r}")
    value = unicodedata.normalize("NFKC", value)
    if _LOOKUP_KINDS[kind] == "id_number":
        return "".join(value.split()).upper()
    return "".join(c for c in value if "0" <= c <= "9")


class FieldCipher:
    """Encrypts short text values; decrypts tokens of either algorithm."""

    def __init__(self, keys: Keys, profile: str = "aes-gcm", previous=()):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; use one of {sorted(PROFILES)}")
        self.keys = keys
        self.previous = [FieldCipher(k, profile) for k in previous]
        self.profile = profile
        self._alg = PROFILES[profile]
        self._aes = AESGCM(keys.enc)
        sm4_key = HKDF(hashes.SM3(), 16, salt=None, info=b"bangban enc1 sm4").derive(keys.enc)
        self._sm4 = algorithms.SM4(sm4_key)
        if self._alg == "sm4":
            self._sm4_check()

    def _sm4_check(self):
        try:
            self._sm4_gcm(True, b"\0" * NONCE_SIZE, b"x", b"")
        except UnsupportedAlgorithm as e:
            raise CryptoError(f"SM4-GCM is not supported by the linked OpenSSL: {e}") from None

    def _sm4_gcm(self, encrypt: bool, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        if encrypt:
            ctx = Cipher(self._sm4, modes.GCM(nonce)).encryptor()
            ctx.authenticate_additional_data(aad)
            return ctx.update(data) + ctx.finalize() + ctx.tag
        body, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
        ctx = Cipher(self._sm4, modes.GCM(nonce, tag)).decryptor()
        ctx.authenticate_additional_data(aad)
        return ctx.update(body) + ctx.finalize()

    @staticmethod
    def _aad(alg: str, context: str) -> bytes:
        return f"bangban:{PREFIX}{alg}:{context}".encode("utf-8")

    def encrypt(self, text: str | None, *, context: str = "") -> str | None:
        """Token for ``text``; ``None`` and ``""`` are returned unchanged."""
        if not text:
            return text
        nonce = secrets.token_bytes(NONCE_SIZE)
        data, aad = text.encode("utf-8"), self._aad(self._alg, context)
        if self._alg == "aes":
            sealed = self._aes.encrypt(nonce, data, aad)
        else:
            sealed = self._sm4_gcm(True, nonce, data, aad)
        raw = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{PREFIX}{self._alg}:{raw}"

    def decrypt(self, token: str | None, *, context: str = "", only_current: bool = False) -> str | None:
        """Plain text of ``token``. Values without the ``enc1:`` prefix (legacy
        plain rows, ``None``) are returned unchanged; a token that is tampered,
        under another key or another context raises :class:`CryptoError`.
        A token that fails under the current key is tried under the earlier
        ones (not with ``only_current``)."""
        if token is None or not token.startswith(PREFIX):
            return token
        try:
            return self._decrypt(token, context)
        except CryptoError:
            if only_current:
                raise
            for earlier in self.previous:
                try:
                    return earlier._decrypt(token, context)
                except CryptoError:
                    continue
            raise

    def _decrypt(self, token: str, context: str) -> str:
        alg, _, raw = token[len(PREFIX):].partition(":")
        if alg not in PROFILES.values():
            raise CryptoError(f"unknown algorithm {alg!r}")
        if not _B64URL.fullmatch(raw):
            raise CryptoError("malformed token")
        try:
            blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            raise CryptoError("malformed token") from None
        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise CryptoError("token too short")
        nonce, sealed, aad = blob[:NONCE_SIZE], blob[NONCE_SIZE:], self._aad(alg, context)
        try:
            if alg == "aes":
                data = self._aes.decrypt(nonce, sealed, aad)
            else:
                data = self._sm4_gcm(False, nonce, sealed, aad)
            return data.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise CryptoError("token failed authentication (tampered, wrong key or context)") from None
        except UnsupportedAlgorithm as e:
            raise CryptoError(f"SM4-GCM is not supported by the linked OpenSSL: {e}") from None

    def keyed_hash(self, value: str | None, *, kind: str) -> str | None:
        """Hex HMAC-SHA256 (in every profile) of the normalised value under the
        lookup key, for exact-match search; ``None`` when nothing is left."""
        if value is None:
            return None
        norm = normalise(value, kind)
        if not norm:
            return None
        msg = f"{_LOOKUP_KINDS[kind]}:{norm}".encode("utf-8")
        return hmac.new(self.keys.mac, msg, hashlib.sha256).hexdigest()
