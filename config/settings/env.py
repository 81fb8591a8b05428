"""The one place that reads the process environment (and an optional .env file)."""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# DJANGO_READ_DOT_ENV=false lets tests and containers ignore a developer's .env.
if env.bool("DJANGO_READ_DOT_ENV", default=True) and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(str(BASE_DIR / ".env"), overwrite=False)

DEBUG: bool = env.bool("DJANGO_DEBUG", default=True)
REDIS_URL: str | None = env.str("REDIS_URL", default="") or None
TESTING: bool = "PYTEST_CURRENT_TEST" in os.environ or env.bool("DJANGO_TESTING", default=False)
