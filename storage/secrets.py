"""The key the bot derives anonymous keys and signed links from, and where it lives.

Never in the database: whoever holds a copy of the database (a backup, a dump) and the key
could recompute which keyed hash is whose, so the two are kept apart. In production the
operator sets CARREFOUR_SECRET_KEY (bot/settings.py refuses to start without one of at least
MIN_KEY_LENGTH characters). In development and tests a random key is made once in a file
outside the database (CARREFOUR_SECRET_KEY_FILE, mode 0600), so every restart — and every
process sharing the file — derives the same hashes: a voter stays the same voter, a signed
link stays valid until it expires. See docs/operations.md for rotating it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

# 32 characters of a random key are at least 128 bits even when typed as hex.
MIN_KEY_LENGTH = 32
KEY_FILE_MODE = 0o600


class KeyFileError(RuntimeError):
    """The key file cannot be used (unreadable, or not a key): refused rather than replaced,
    since a new key would make every voter new and every signed link invalid."""


def key_problem(configured: str | None) -> str | None:
    """Why a configured key is not good enough for production (None when it is)."""
    if configured is None or not configured.strip():
        return "missing"
    if len(configured.strip()) < MIN_KEY_LENGTH:
        return "too short"
    return None


def read_key_file(path: Path) -> str | None:
    """The key stored in `path`, or None when there is no such file."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"cannot read the secret key file {path}: {error}") from error
    if len(text) < MIN_KEY_LENGTH:
        raise KeyFileError(f"the secret key file {path} does not hold a key")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        logger.warning("the secret key file %s is readable by others: chmod 600 it", path)
    return text


def write_key_file(path: Path, key: str) -> str:
    """Store `key` in `path` unless a key is there already; returns the key the file holds.

    Written to a private temporary file then linked into place: a second process racing to
    create the file either wins or reads the first one's complete key, never half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # Another process made it first: keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    stored = read_key_file(path)
    assert stored is not None
    return stored


def load_master_key(*, configured: str | None, key_file: Path) -> bytes:
    """The operator's key when set; otherwise the key file's, made on first use."""
    if configured:
        return configured.encode()
    stored = read_key_file(key_file)
    if stored is None:
        stored = write_key_file(key_file, secrets.token_hex(32))
        logger.warning(
            "CARREFOUR_SECRET_KEY is not set: made a development key in %s (production "
            "requires CARREFOUR_SECRET_KEY)",
            key_file,
        )
    return stored.encode()


def derive(master: bytes, purpose: str) -> bytes:
    """A separate key per use, so a leaked anonymous-vote key signs no links."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def keyed_hash(key: bytes, *parts: object) -> str:
    message = "\x1f".join(str(part) for part in parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
