"""Safety net: a record deleted without its object (e.g. with its owner, by cascade) still frees the object."""

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.core.exceptions import ServiceUnavailable
from apps.storage import objects
from apps.storage.models import StoredFile
from apps.storage.services import PURGED_FLAG

logger = logging.getLogger("apps.storage")


def _remove_object(bucket: str, key: str, upload_id: str) -> None:
    try:
        if upload_id:
            objects.abort_multipart(key, upload_id=upload_id, bucket=bucket)
        objects.remove(key, bucket=bucket)
    except ServiceUnavailable:
        # Left for the housekeeping task, which removes objects no record points to.
        logger.warning("object of a deleted file not removed", extra={"bucket": bucket, "key": key})


@receiver(post_delete, sender=StoredFile, dispatch_uid="storage.stored_file_object_cleanup")
def stored_file_object_cleanup(sender: type[StoredFile], instance: StoredFile, **kwargs: Any) -> None:
    if getattr(instance, PURGED_FLAG, False):
        return
    bucket, key, upload_id = instance.bucket, instance.object_key, instance.upload_id
    transaction.on_commit(lambda: _remove_object(bucket, key, upload_id), using=kwargs.get("using"))
