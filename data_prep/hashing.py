"""Stable hashes of JSON-able values, used for the content hash and the cache key."""
from __future__ import annotations

import hashlib
import json


def stable_hash(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
