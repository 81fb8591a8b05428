"""Where the API lives: shared by the URL configuration, the NinjaAPI and the middleware that treats API calls
differently from pages."""

API_PREFIX = "/api/"
API_ROOT = "/api/v1"
DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
# The interactive docs and their schema, which staff may reach with their admin session.
API_SESSION_PAGES = (API_ROOT + DOCS_PATH, API_ROOT + OPENAPI_PATH)
