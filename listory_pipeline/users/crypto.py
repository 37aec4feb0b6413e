"""Encryption at rest for refresh tokens, access tokens and per-user app secrets.

The key comes from `LISTORY_SECRET_KEY` when set; otherwise a key file with 0600
permissions is created in `LISTORY_HOME` on first use, so a fresh machine works
without setup while a production deployment can keep the key in its secret store.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretKeyError(RuntimeError):
    """The key is missing, malformed, or does not decrypt what is stored."""


def _create_key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not write different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def load_or_create_key(key_file: Path, env_key: str | None = None) -> bytes:
    if env_key:
        return env_key.encode("ascii")
    if key_file.exists():
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise SecretKeyError(
                f"{key_file} is readable by other users (mode {oct(mode)}); run `chmod 600 {key_file}`"
            )
        return key_file.read_bytes().strip()
    return _create_key_file(key_file)


class SecretBox:
    """Encrypts and decrypts short secrets; its repr never shows the key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(
                "the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with `python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"` "
                "and set it as LISTORY_SECRET_KEY (tokens encrypted with another key cannot be read: log in again)"
            ) from exc

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError(
                "a stored secret cannot be decrypted with the current key "
                "(was LISTORY_SECRET_KEY or the key file changed?)"
            ) from exc

    @classmethod
    def from_settings(cls, settings) -> "SecretBox":
        return cls(load_or_create_key(settings.secret_key_path, settings.secret_key))
