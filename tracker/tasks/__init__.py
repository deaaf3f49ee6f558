"""Tasks: pages, services, queries and exports. Route modules that extend the tasks
blueprint (``views.bp``) are imported here so that registering it brings their routes."""
from tracker.tasks import export  # noqa: F401
