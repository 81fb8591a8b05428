import io

from django.core.management.color import no_style
from django.test import override_settings

from apps.audit.documents import COLLECTIONS, TTL_INDEX_NAME
from apps.audit.seed import seed


def test_seed_creates_indexes_and_retention_ttl_idempotently(audit_db):
    for name in COLLECTIONS.values():
        audit_db[name].drop()
    out = io.StringIO()
    with override_settings(AUDIT_RETENTION_DAYS=90):
        seed(stdout=out, style=no_style())
        seed(stdout=out, style=no_style())
    assert "audit indexes ready (retention 90 days)" in out.getvalue()
    for name in COLLECTIONS.values():
        indexes = {i["name"]: i for i in audit_db[name].list_indexes()}
        assert indexes[TTL_INDEX_NAME]["expireAfterSeconds"] == 90 * 86400
        assert "created_at_id" in indexes
