"""Time-ordered UUIDv7 identifiers (index-friendly primary keys)."""

import uuid

from uuid_utils.compat import uuid7


def new_uuid7() -> uuid.UUID:
    return uuid7()
