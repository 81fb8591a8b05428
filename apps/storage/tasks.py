from celery import shared_task

from apps.storage.services import pending_uploads_cleanup


@shared_task(name="storage.cleanup_pending_uploads")
def cleanup_pending_uploads() -> dict[str, int]:
    """Abort and remove uploads left pending longer than FILE_PENDING_TTL, and objects no file record owns."""
    return pending_uploads_cleanup()
