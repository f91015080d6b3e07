"""Flask extensions, created here and bound to the app in ``create_app`` (nothing at import)."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

# Rate limits of the API write endpoints, per API key or token (``TANGGAP_API_WRITE_LIMIT``).
# In-process counters by default; with several workers set ``TANGGAP_RATELIMIT_STORAGE`` to a
# shared store (e.g. ``redis://host:6379``) so the limit holds across them.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
