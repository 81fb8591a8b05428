"""The one place that builds the MinIO/S3 client."""

from functools import lru_cache

import urllib3
from django.conf import settings
from minio import Minio


@lru_cache(maxsize=4)
def _client(endpoint: str, access_key: str, secret_key: str, secure: bool, region: str) -> Minio:
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=settings.HEALTH_CHECK_TIMEOUT, read=30),
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        maxsize=16,
    )
    return Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http)


def get_client() -> Minio:
    """A client for the configured endpoint (rebuilt when the settings change, e.g. in tests)."""
    return _client(
        settings.S3_ENDPOINT,
        settings.S3_ACCESS_KEY,
        settings.S3_SECRET_KEY,
        settings.S3_SECURE,
        settings.S3_REGION,
    )


def get_presign_client() -> Minio:
    """A client that signs URLs for the host browsers reach (S3_PUBLIC_ENDPOINT when set).

    Signing needs no request to the server because the region is always given."""
    public = settings.S3_PUBLIC_ENDPOINT
    return _client(
        public or settings.S3_ENDPOINT,
        settings.S3_ACCESS_KEY,
        settings.S3_SECRET_KEY,
        settings.S3_PUBLIC_SECURE if public else settings.S3_SECURE,
        settings.S3_REGION or "us-east-1",
    )
