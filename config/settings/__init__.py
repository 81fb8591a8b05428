"""Settings, read from the environment (and an optional .env) with django-environ; split by concern."""

from .accounts import *  # noqa: F403
from .admin import *  # noqa: F403
from .audit import *  # noqa: F403
from .base import *  # noqa: F403
from .mail import *  # noqa: F403
from .ratelimit import *  # noqa: F403
from .realtime import *  # noqa: F403
from .scheduler import *  # noqa: F403
from .security import *  # noqa: F403
from .storage import *  # noqa: F403
