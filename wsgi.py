"""WSGI entry point: ``gunicorn wsgi:app``; ``flask --app wsgi …``."""
import sys

from tracker import ConfigError, create_app

try:
    app = create_app()
except ConfigError as error:  # one clear line, not a traceback
    sys.exit(f"Plan Tracker configuration error: {error}")
