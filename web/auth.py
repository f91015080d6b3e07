"""Login, logout and changing one's own password. Passwords are checked by
``workflow.commands.authenticate`` (argon2, at most five checks per account and 15 minutes,
counted atomically); failed attempts are also limited per client IP and IP range. A browser that
logged in before carries a signed device cookie and keeps a budget of its own, so a stranger's
guessing cannot lock its owner out. A session id carries the user's session token, which logout
and a password change replace. Each login, failure, lockout, logout and password change is in
the security log with the client's address."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from workflow import commands
from workflow.access import Actor, Screen, actor_for_user, may_use
from workflow.commands import users
from workflow.commands.users import MAX_PASSWORD, MIN_PASSWORD, KnownDevice
from workflow.errors import ValidationError
from workflow.store.models import User

from .extensions import login_manager
from .forms import Form
from .helpers import add_errors, forget_work_list, run_command, safe_next, services, whole_number
from .i18n import tr
from .ratelimit import CredentialGuesses

bp = Blueprint("auth", __name__)


class WebUser(UserMixin):
    def __init__(self, user: User, actor: Actor):
        self.user_id = user.id
        self.username = user.username
        self.full_name = user.full_name
        self.token = user.session_token
        self.actor = actor

    def get_id(self) -> str:
        return f"{self.user_id}:{self.token}"

    def may_use(self, screen: str) -> bool:
        """For templates: ``current_user.may_use("inbox")`` (a name that is no screen fails)."""
        return may_use(self.actor, Screen(screen))


_SHARED = "tanggap_user_session"  # flask.g: the reading session the user is loaded in (load_user_in)


@login_manager.user_loader
def load_user(session_id: str) -> WebUser | None:
    user_id, _, token = session_id.partition(":")
    if whole_number(user_id) is None or not token:
        return None
    shared = g.get(_SHARED)
    if shared is not None:
        return _web_user(shared, int(user_id), token)
    with services().reading() as session:
        return _web_user(session, int(user_id), token)


def _web_user(session, user_id: int, token: str) -> WebUser | None:
    user = session.get(User, user_id)
    if user is None or not user.active or not secrets.compare_digest(user.session_token, token):
        return None
    return WebUser(user, actor_for_user(session, user.id))


def load_user_in(session) -> None:
    """Read the signed-in user of the request, if any, now and in ``session`` (the one a
    request opens first anyway): not in a session of its own."""
    g.setdefault(_SHARED, session)
    try:
        current_user._get_current_object()
    finally:
        g.pop(_SHARED, None)


class LoginForm(Form):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])


# where a user lands after logging in: the first of these screens they may use
HOMES = ((Screen.FIELD, "field.index"), (Screen.INBOX, "inbox.index"), (Screen.ESCALATIONS, "escalations.index"),
         (Screen.ADMIN, "admin.index"), (Screen.HISTORY, "audit.search"))


def home_for(user: WebUser) -> str:
    for screen, endpoint in HOMES:
        if may_use(user.actor, screen):
            return url_for(endpoint)
    return url_for("home.index")


DEVICE_COOKIE = "tanggap_device"
DEVICE_MAX_AGE = 180 * 24 * 3600  # a browser stays "known" for half a year after a login


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tanggap-known-device")


def _known_device() -> KnownDevice | None:
    """The browser's device cookie, if it is one this app signed (for whichever account)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _devices().loads(raw, max_age=DEVICE_MAX_AGE)
        return KnownDevice(user_id=int(value["u"]), device_id=str(value["d"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            CredentialGuesses.refuse_if_exhausted()
        except TooManyRequests as exc:
            users.login_refused(services(), form.username.data, retry_after=int(exc.retry_after or 60),
                                client_ip=request.remote_addr)
            raise
        device = _known_device()
        result = commands.authenticate(services(), form.username.data, form.password.data,
                                       device=device, client_ip=request.remote_addr)
        if result.user is not None:
            user = load_user(f"{result.user.id}:{result.user.session_token}")
            forget_work_list()  # another person's lists are not this one's
            login_user(user)
            response = redirect(safe_next(request.args.get("next"), home_for(user)))
            if device is None or device.user_id != result.user.id:
                token = _devices().dumps({"u": result.user.id, "d": secrets.token_urlsafe(16)})
                response.set_cookie(DEVICE_COOKIE, token, max_age=DEVICE_MAX_AGE, httponly=True,
                                    samesite="Lax", path=url_for("auth.login"),
                                    secure=current_app.config["SESSION_COOKIE_SECURE"])
            return response
        CredentialGuesses.failed()
        form.password.errors.append(tr(result.error.message))
        status = 429 if result.retry_after else 401
        page = make_response(render_template("auth/login.html", form=form), status)
        if result.retry_after:
            page.headers["Retry-After"] = str(result.retry_after)
        return page
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        run_command(users.log_out, current_user.user_id, client_ip=request.remote_addr)
        forget_work_list()
        logout_user()
    flash(_l("You are logged out."))
    return redirect(url_for("home.index"))


class PasswordForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    repeat_password = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])


@bp.route("/akun/sandi", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password: the current one, the new one twice. Every other session of the
    user ends; this one carries on with the new session token."""
    form = PasswordForm()
    status, retry_after = 200, None
    if form.validate_on_submit():
        user_id = current_user.user_id
        try:
            token = users.change_password(services(), user_id, form.current_password.data,
                                          form.new_password.data, form.repeat_password.data,
                                          client_ip=request.remote_addr)
        except users.TooManyAttempts as exc:
            add_errors(form, exc.errors, fallback="current_password")
            status, retry_after = 429, exc.retry_after
        except ValidationError as exc:
            add_errors(form, exc.errors, fallback="current_password")
            status = 400
        else:
            login_user(load_user(f"{user_id}:{token}"))
            flash(_l("Your password is changed. Your other sessions are logged out."))
            return redirect(home_for(current_user))
    elif form.is_submitted():
        status = 400
    page = make_response(render_template("auth/password.html", form=form, min_password=MIN_PASSWORD), status)
    if retry_after:
        page.headers["Retry-After"] = str(retry_after)
    return page
