"""MinIO / S3 object storage and upload limits."""

from .env import DEBUG, env

_MIB = 1024 * 1024

S3_ENDPOINT: str = env.str("S3_ENDPOINT", default="127.0.0.1:9000")
S3_ACCESS_KEY: str = env.str("S3_ACCESS_KEY", default="minioadmin" if DEBUG else "")
S3_SECRET_KEY: str = env.str("S3_SECRET_KEY", default="minioadmin" if DEBUG else "")
S3_BUCKET: str = env.str("S3_BUCKET", default="uploads")
S3_SECURE: bool = env.bool("S3_SECURE", default=False)
S3_REGION: str = env.str("S3_REGION", default="us-east-1")
# Host[:port] that browsers use to reach the S3 server when it differs from S3_ENDPOINT (e.g. behind a proxy);
# presigned URLs are signed for this host. Empty: S3_ENDPOINT.
S3_PUBLIC_ENDPOINT: str = env.str("S3_PUBLIC_ENDPOINT", default="")
S3_PUBLIC_SECURE: bool = env.bool("S3_PUBLIC_SECURE", default=S3_SECURE)

FILE_MAX_SIZE: int = env.int("FILE_MAX_SIZE", default=5 * 1024 * _MIB)
FILE_ALLOWED_CONTENT_TYPES: list[str] = env.list(
    "FILE_ALLOWED_CONTENT_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/tiff",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/zip",
        "application/octet-stream",
    ],
)
# Files of this size and above are uploaded in parts.
FILE_MULTIPART_THRESHOLD: int = env.int("FILE_MULTIPART_THRESHOLD", default=8 * _MIB)
# Part size of multipart uploads; the code keeps it within S3's bounds (5 MiB .. 5 GiB).
FILE_PART_SIZE: int = env.int("FILE_PART_SIZE", default=5 * _MIB)
# Most parts (and part URLs) one upload gets, at most S3's 10,000; larger files get bigger parts instead.
FILE_MAX_PARTS: int = env.int("FILE_MAX_PARTS", default=10_000)
# Seconds presigned upload and download URLs stay valid (clamped to 7 days).
FILE_UPLOAD_URL_TTL: int = env.int("FILE_UPLOAD_URL_TTL", default=3600)
FILE_DOWNLOAD_URL_TTL: int = env.int("FILE_DOWNLOAD_URL_TTL", default=3600)
# Uploads still pending after this many seconds are aborted and removed by storage.cleanup_pending_uploads.
FILE_PENDING_TTL: int = env.int("FILE_PENDING_TTL", default=24 * 3600)
