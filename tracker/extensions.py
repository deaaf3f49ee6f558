"""Flask extensions, created unbound and bound in ``create_app``."""
from __future__ import annotations

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from tracker.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
bootstrap = Bootstrap5()
# Storage: memory by default, Redis when REDIS_URL is set (shared by all gunicorn workers).
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")
