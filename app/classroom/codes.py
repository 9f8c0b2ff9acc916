"""Room codes a class can read off a projector, presenter keys, and student ids."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# NOTE: no 0/O, 1/I/L: a code is read off a screen at the back of a room and typed on a phone.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CODE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
STUDENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """The code as stored, or None when the text cannot be a code (typed in lower case is fine)."""
    code = text.strip().upper()
    return code if CODE.match(code) else None


def new_presenter_key() -> str:
    return secrets.token_urlsafe(24)


def key_digest(key: str) -> str:
    # Only the digest is stored: whoever reads the store (or a Redis dump) cannot drive the room.
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str | None, digest: str) -> bool:
    return bool(key) and hmac.compare_digest(key_digest(key), digest)


def new_student_id() -> str:
    return secrets.token_urlsafe(12)


def is_student_id(text: str | None) -> bool:
    return bool(text) and STUDENT_ID.match(text) is not None
