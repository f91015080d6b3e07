"""a check value of each deployment key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00

``key_checks`` keeps, per deployment secret, an HMAC of a fixed text under it: a host started
with another tracking key than the one the stored codes were hashed with refuses to run
instead of silently finding no report (``workflow.store.tracking.check_key``). Written here for a
database whose codes migration 0008 hashed, else on first use.
"""
import hashlib
import hmac

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CHECKED_TEXT = b"tanggap tracking key check"


def upgrade() -> None:
    table = op.create_table(
        "key_checks",
        sa.Column("name", sa.String(length=40), nullable=False, comment="which secret"),
        sa.Column("check_value", sa.String(length=64), nullable=False,
                  comment="HMAC-SHA256 of a fixed text under the secret (not the secret)"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_key_checks")),
    )
    key = context.config.attributes.get("tracking_key")
    has_reports = op.get_bind().execute(sa.text("SELECT count(*) FROM reports")).scalar()
    if key and has_reports:
        op.bulk_insert(table, [{"name": "tracking", "check_value":
                                hmac.new(key.encode(), CHECKED_TEXT, hashlib.sha256).hexdigest()}])


def downgrade() -> None:
    op.drop_table("key_checks")
