"""security log: an append-only, hash-chained record of logins, administration and contact views

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 13:00:00

One chain for the deployment, its head in ``security_chain`` (one row, seq 0 at the start).
Like ``case_events``, the rows cannot be changed or deleted (triggers).
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

APPEND_ONLY = "security_events is append-only: rows cannot be changed or deleted"
GENESIS = "0" * 64
_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", _BIG, primary_key=True),
        sa.Column("seq", _BIG, nullable=False, comment="1, 2, ... along the one chain"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(60), nullable=False, comment="workflow.vocabulary.SecurityAction"),
        sa.Column("actor_user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_security_events_actor_user_id_users"),
                  nullable=True, comment="who acted (NULL: unknown)"),
        sa.Column("actor_name", sa.String(200), nullable=False, comment="username as typed, or 'system'"),
        sa.Column("subject_user_id", sa.Integer(),
                  sa.ForeignKey("users.id", name="fk_security_events_subject_user_id_users"),
                  nullable=True, comment="the account concerned"),
        sa.Column("subject", sa.String(200), nullable=True, comment="what it concerns, e.g. agency:DLH, case:42"),
        sa.Column("client_ip", sa.String(64), nullable=True, comment="the request's address, if any"),
        sa.Column("details", sa.Text(), nullable=False,
                  comment="canonical JSON exactly as hashed (old and new values)"),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_security_events"),
        sa.UniqueConstraint("seq", name="uq_security_events_seq"),
    )
    op.create_index("ix_security_events_actor", "security_events", ["actor_user_id", "occurred_at"])
    op.create_index("ix_security_events_subject", "security_events", ["subject_user_id", "occurred_at"])
    op.create_index("ix_security_events_action", "security_events", ["action", "occurred_at"])
    op.create_index("ix_security_events_occurred", "security_events", ["occurred_at"])
    chain = op.create_table(
        "security_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", _BIG, nullable=False, comment="length of the chain"),
        sa.Column("hash", sa.String(64), nullable=False, comment="hash of its last event"),
        sa.PrimaryKeyConstraint("id", name="pk_security_chain"),
    )
    op.bulk_insert(chain, [{"id": 1, "seq": 0, "hash": GENESIS}])
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER security_events_no_{verb.lower()} BEFORE {verb} ON security_events
                BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
            """)
    else:
        op.execute(f"""
            CREATE FUNCTION security_events_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER security_events_no_change BEFORE UPDATE OR DELETE ON security_events
            FOR EACH ROW EXECUTE FUNCTION security_events_append_only()
        """)
        op.execute("""
            CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
            FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only()
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS security_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS security_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS security_events_no_change ON security_events")
        op.execute("DROP TRIGGER IF EXISTS security_events_no_truncate ON security_events")
        op.execute("DROP FUNCTION IF EXISTS security_events_append_only()")
    op.drop_table("security_chain")
    op.drop_index("ix_security_events_occurred", table_name="security_events")
    op.drop_index("ix_security_events_action", table_name="security_events")
    op.drop_index("ix_security_events_subject", table_name="security_events")
    op.drop_index("ix_security_events_actor", table_name="security_events")
    op.drop_table("security_events")
