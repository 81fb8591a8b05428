"""MinIO / S3 object storage and upload limits."""

from .env import DEBUG, env

S3_ENDPOINT: str = env.str("S3_ENDPOINT", default="127.0.0.1:9000")
S3_ACCESS_KEY: str = env.str("S3_ACCESS_KEY", default="minioadmin" if DEBUG else "")
S3_SECRET_KEY: str = env.str("S3_SECRET_KEY", default="minioadmin" if DEBUG else "")
S3_BUCKET: str = env.str("S3_BUCKET", default="uploads")
S3_SECURE: bool = env.bool("S3_SECURE", default=False)
S3_REGION: str = env.str("S3_REGION", default="us-east-1")
