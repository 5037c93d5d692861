"""Per-check seeds derived from the course secret: deterministic, unguessable without the secret."""

from __future__ import annotations

import hashlib

import numpy as np


def check_seed(secret: str, check_id: str) -> int:
    digest = hashlib.sha256(f"{secret}\0{check_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def check_rng(secret: str, check_id: str) -> np.random.Generator:
    return np.random.default_rng(check_seed(secret, check_id))


def secret_id(secret: str) -> str:
    """A short public fingerprint of the secret, recorded in results (never the secret itself)."""
    return hashlib.sha256(f"seed-id\0{secret}".encode()).hexdigest()[:12]
