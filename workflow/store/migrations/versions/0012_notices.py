"""Notices: who is told about a case (subscriptions), and the outbox as a delivery queue.

Revision ID: 0012
Revises: 0011

Each outbox row becomes one notice to one recipient on one channel, with an idempotency key and
the delivery worker's bookkeeping (lease, backoff, give-up). Rows written before this revision
(the process's thrown messages, never sent) have no channel: the worker leaves them alone.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite too): areas refer to cities, which a table copy would break
    op.add_column("cities", sa.Column("quiet_notices", sa.JSON(), nullable=False, server_default="[]",
                                      comment="audit actions this city does not tell followers of"))
    op.add_column("cities", sa.Column("phone_country", sa.String(length=4), nullable=False, server_default="62",
                                      comment="calling code of local numbers (0811… → 62811…)"))
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("following", sa.Enum("reporter", "duplicate", "follower", name="following",
                                       native_enum=False, length=32), nullable=False),
        sa.Column("channel", sa.Enum("email", "whatsapp", "sms", name="noticechannel",
                                     native_enum=False, length=32), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False, comment="e-mail address or phone number"),
        sa.Column("language", sa.String(length=5), nullable=False, comment="of the notices: id or en"),
        sa.Column("sealed_code", sa.Text(), nullable=True,
                  comment="the reporter's tracking code sealed under the tracking key (for links)"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True, comment="the stop link was used"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_subscriptions_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_case_id"), ["case_id"], unique=False)
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("subscription_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.Enum("email", "whatsapp", "sms", name="noticechannel",
                                                         native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column("key", sa.String(length=100), nullable=True,
                                      comment="idempotency key: Message-ID, the gateway's reference"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True,
                                      comment="backoff after a failure"))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True,
                                      comment="gave up: an incident was recorded"))
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.alter_column("topic", existing_type=sa.String(length=60), comment="the audit action it tells of")
        batch_op.alter_column("payload", existing_type=sa.JSON(), comment="the public facts the notice names")
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_key"), ["key"])
        batch_op.create_index(batch_op.f("ix_outbox_case_id"), ["case_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_outbox_subscription_id_subscriptions"), "subscriptions",
                                    ["subscription_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_outbox_incident_id_incidents"), "incidents",
                                    ["incident_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_incident_id_incidents"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_outbox_subscription_id_subscriptions"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_case_id"))
        batch_op.drop_constraint(batch_op.f("uq_outbox_key"), type_="unique")
        batch_op.alter_column("payload", existing_type=sa.JSON(), comment=None)
        batch_op.alter_column("topic", existing_type=sa.String(length=60), comment=None)
        for column in ("incident_id", "failed_at", "lease_expires_at", "lease_owner", "next_attempt_at",
                       "key", "channel", "subscription_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_case_id"))
    op.drop_table("subscriptions")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE cities DROP COLUMN quiet_notices")  # SQLite 3.35+, in place
        op.execute("ALTER TABLE cities DROP COLUMN phone_country")
    else:
        op.drop_column("cities", "quiet_notices")
        op.drop_column("cities", "phone_country")
