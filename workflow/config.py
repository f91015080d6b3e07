"""Settings read from the environment, with embedded-mode defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workflow.signing import KEY_FILE, generate_pem

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_bpmn_dir() -> Path:
    local = REPO_ROOT / "bpmn"
    if local.is_dir():
        return local
    import bpmn  # installed as package data next to workflow/

    return Path(next(iter(bpmn.__path__)))


def instance_secret(instance: Path, name: str, value: str | None = None,
                    make: Callable[[], str] = lambda: secrets.token_hex(32)) -> str:
    """A deployment secret: ``value`` (from the environment) when given, else one ``make``
    made (random hex), kept in ``<instance>/<name>`` (mode 0600, created on first use, never in
    the repository). Every host of a deployment must be given the same value."""
    if value:
        return value
    path = Path(instance) / name
    if not path.exists():
        # Written whole under a private name, then linked into place: a worker racing this one
        # either finds no file (and links its own, which fails if ours came first) or a complete
        # one, never a half-written file.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:  # another worker made it first: use theirs
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _smtp(env: dict[str, str]) -> "SmtpSettings | None":
    host = env.get("TANGGAP_SMTP_HOST")
    if not host:
        return None
    security = env.get("TANGGAP_SMTP_SECURITY", "starttls")
    if security not in ("starttls", "ssl", "none"):
        raise ValueError("TANGGAP_SMTP_SECURITY must be starttls, ssl or none")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    return SmtpSettings(host=host, port=int(env.get("TANGGAP_SMTP_PORT", default_port)), security=security,
                        user=env.get("TANGGAP_SMTP_USER") or None, password=env.get("TANGGAP_SMTP_PASSWORD"),
                        sender=env.get("TANGGAP_MAIL_FROM", "Tanggap <noreply@localhost>"),
                        timeout=float(env.get("TANGGAP_SMTP_TIMEOUT", 10)))


ESCALATION_MAIL = {"immediate": "immediate", "on": "immediate", "hourly": "hourly", "off": "off",
                   "0": "off", "no": "off"}


def _escalation_mail(value: str) -> str:
    try:
        return ESCALATION_MAIL[value.strip().lower()]
    except KeyError:
        raise ValueError("TANGGAP_ESCALATION_MAIL must be immediate, hourly or off") from None


@dataclass(frozen=True)
class Gateway:
    """An HTTP messaging gateway (``TANGGAP_WHATSAPP_*``, ``TANGGAP_SMS_*``)."""

    url: str
    token: str = field(repr=False)
    timeout: float = 10.0
    sender: str = ""  # SMS: the sender name; WhatsApp: the prefix of the template names


def _gateway(env: dict[str, str], name: str, sender: str) -> "Gateway | None":
    url = env.get(f"TANGGAP_{name}_URL")
    if not url:
        return None
    token = env.get(f"TANGGAP_{name}_TOKEN")
    if not token:
        raise ValueError(f"TANGGAP_{name}_URL is set: TANGGAP_{name}_TOKEN is needed too")
    return Gateway(url=url, token=token, timeout=float(env.get(f"TANGGAP_{name}_TIMEOUT", 10)),
                   sender=env.get(f"TANGGAP_{name}_SENDER", sender))


@dataclass(frozen=True)
class TsaSettings:
    """The RFC 3161 Time-Stamp Authority that anchors the audit log's tree heads
    (``TANGGAP_TSA_URL``; ``TANGGAP_TSA_CA_FILE``: the PEM certificate(s) its tokens must chain to)."""

    url: str
    ca_file: Path | None = None
    timeout: float = 10.0


def _tsa(env: dict[str, str]) -> "TsaSettings | None":
    url = env.get("TANGGAP_TSA_URL")
    if not url:
        return None
    ca_file = env.get("TANGGAP_TSA_CA_FILE")
    return TsaSettings(url=url, ca_file=Path(ca_file) if ca_file else None,
                       timeout=float(env.get("TANGGAP_TSA_TIMEOUT", 10)))


def _audit_key(env: dict[str, str], instance: Path) -> str:
    """The PEM of the audit key (``workflow.signing``): ``TANGGAP_AUDIT_KEY_FILE``, else
    ``TANGGAP_AUDIT_KEY``, else one made in ``<instance>/audit_key.pem`` (the embedded default)."""
    path = env.get("TANGGAP_AUDIT_KEY_FILE")
    if path:
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise ValueError(f"TANGGAP_AUDIT_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    return instance_secret(instance, KEY_FILE, env.get("TANGGAP_AUDIT_KEY"), make=generate_pem)


def _audit_public_keys(env: dict[str, str]) -> str:
    path = env.get("TANGGAP_AUDIT_PUBLIC_KEYS")
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"TANGGAP_AUDIT_PUBLIC_KEYS: cannot read {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class SmtpSettings:
    """E-mail delivery (``TANGGAP_SMTP_*``); without a host, e-mail is not offered."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "Tanggap <noreply@localhost>"
    timeout: float = 10.0
    domain: str = "tanggap.local"  # the right-hand side of Message-IDs


@dataclass(frozen=True)
class Settings:
    """Everything the domain layer needs to know about its deployment.

    ``database_url``: SQLAlchemy URL; SQLite under the instance folder by default, PostgreSQL
    (``postgresql+psycopg://...``) in production.
    ``dispute_window``: ISO 8601 duration a citizen has to dispute a closed case.
    ``info_window``: ISO 8601 duration a citizen has to answer an officer's question.
    ``max_transfers``: transfers between OPDs after which a case escalates as ping-pong.
    ``at_risk_share``: share of a task's SLA target after which the inbox marks it at risk.
    ``tracking_key``: keys the hash under which tracking codes are stored (the codes themselves
    never are); the same on every host, and kept when the session secret is rotated.
    ``public_url``: where citizens reach the app; the links in notices start with it.
    ``smtp``: the e-mail channel, or None when no SMTP host is configured.
    ``whatsapp``, ``sms``: the HTTP gateways of those channels, or None.
    ``audit_key``: PEM of the Ed25519 key audit events and tree heads are signed with
    (``workflow.signing``); ``audit_public_keys``: PEM of retired keys whose signatures still count.
    ``tsa``: the time-stamp authority tree heads are anchored with, or None (anchoring off).
    ``log_interval``: seconds between the worker's signed tree heads.
    ``escalation_mail``: how supervisors are e-mailed when a case is escalated to them:
    ``immediate`` (a message per escalation), ``hourly`` (one digest per supervisor at the top of
    each hour) or ``off`` (the escalation view only).
    """

    instance_path: Path
    database_url: str
    bpmn_dir: Path
    upload_dir: Path
    tracking_key: str = field(repr=False, default="")
    dispute_window: str = "P7D"
    info_window: str = "P3D"
    max_transfers: int = 2
    at_risk_share: float = 0.75
    max_upload_bytes: int = 10 * 1024 * 1024
    public_url: str = "http://127.0.0.1:5000"
    smtp: SmtpSettings | None = None
    whatsapp: Gateway | None = None
    sms: Gateway | None = None
    escalation_mail: str = "immediate"  # immediate | hourly | off
    audit_key: str = field(repr=False, default="")
    audit_public_keys: str = ""
    tsa: TsaSettings | None = None
    log_interval: float = 300.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("TANGGAP_INSTANCE", Path.cwd() / "instance")).resolve()
        url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'tanggap.sqlite3'}"
        if url.startswith("postgres://"):  # Heroku-style URLs
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        values = dict(
            instance_path=instance,
            database_url=url,
            bpmn_dir=Path(env.get("TANGGAP_BPMN_DIR") or _default_bpmn_dir()),
            upload_dir=Path(env.get("TANGGAP_UPLOAD_DIR") or instance / "uploads"),
            tracking_key=instance_secret(instance, "tracking_key", env.get("TANGGAP_TRACKING_KEY")),
            dispute_window=env.get("TANGGAP_DISPUTE_WINDOW", "P7D"),
            info_window=env.get("TANGGAP_INFO_WINDOW", "P3D"),
            max_transfers=int(env.get("TANGGAP_MAX_TRANSFERS", 2)),
            at_risk_share=float(env.get("TANGGAP_AT_RISK_SHARE", 0.75)),
            max_upload_bytes=int(env.get("TANGGAP_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)),
            public_url=env.get("TANGGAP_PUBLIC_URL", "http://127.0.0.1:5000"),
            smtp=_smtp(env),
            whatsapp=_gateway(env, "WHATSAPP", "tanggap_"),
            sms=_gateway(env, "SMS", "Tanggap"),
            escalation_mail=_escalation_mail(env.get("TANGGAP_ESCALATION_MAIL", "immediate")),
            audit_key=_audit_key(env, instance),
            audit_public_keys=_audit_public_keys(env),
            tsa=_tsa(env),
            log_interval=float(env.get("TANGGAP_LOG_INTERVAL", 300)),
        )
        values.update(overrides)
        return cls(**values)
