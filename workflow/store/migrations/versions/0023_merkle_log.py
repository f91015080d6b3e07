"""audit log for outsiders: signed events in an append-only Merkle log with signed tree heads

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 01:00:00

``log_pending`` holds events signed in their transaction and not yet in the log; the log's
worker moves them into ``log_entries`` (the leaves, RFC 9162 hashing), ``log_nodes`` (subtree
hashes every fourth level) and signs a ``tree_heads`` row. ``log_state`` is the log's right edge.

Every event written before this revision is queued in ``log_pending`` without a signature
(the database never holds the key): the worker signs them when it first runs, marked as added
to the log after the fact (``log_entries.backfilled``). ``log_state.legacy_pending_max`` is the
last such row; an unsigned pending row after it is refused, and so is every unsigned row once
the log holds a signed event (``backfill_closed``, which the worker also checks in the log).

``log_entries``, ``log_nodes`` and ``tree_heads`` are append-only (triggers).
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("log_entries", "log_nodes", "tree_heads")


def upgrade() -> None:
    op.create_table(
        "log_pending",
        sa.Column("id", _BIG, primary_key=True),
        sa.Column("case_event_id", _BIG, sa.ForeignKey("case_events.id", name="fk_log_pending_case_event_id_case_events"),
                  nullable=True),
        sa.Column("security_event_id", _BIG,
                  sa.ForeignKey("security_events.id", name="fk_log_pending_security_event_id_security_events"),
                  nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True, comment="the signing key (NULL: written before the log)"),
        sa.Column("signature", sa.LargeBinary(), nullable=True, comment="Ed25519 over the event's leaf"),
        sa.PrimaryKeyConstraint("id", name="pk_log_pending"),
        sa.UniqueConstraint("case_event_id", name="uq_log_pending_case_event_id"),
        sa.UniqueConstraint("security_event_id", name="uq_log_pending_security_event_id"),
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", _BIG, nullable=False, autoincrement=False, comment="0, 1, ... leaf index"),
        sa.Column("case_event_id", _BIG, sa.ForeignKey("case_events.id", name="fk_log_entries_case_event_id_case_events"),
                  nullable=True),
        sa.Column("security_event_id", _BIG,
                  sa.ForeignKey("security_events.id", name="fk_log_entries_security_event_id_security_events"),
                  nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True, comment="the case's chain (NULL: the security log)"),
        sa.Column("seq", _BIG, nullable=False, comment="the event's place in its chain"),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False, comment="sha256(0x00 || leaf)"),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False, comment="Ed25519 over the event's leaf"),
        sa.Column("backfilled", sa.Boolean(), nullable=False,
                  comment="written before the log existed, signed when it was added"),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_log_entries"),
        sa.UniqueConstraint("case_event_id", name="uq_log_entries_case_event_id"),
        sa.UniqueConstraint("security_event_id", name="uq_log_entries_security_event_id"),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("idx", _BIG, nullable=False, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_log_nodes"),
    )
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("size", _BIG, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.String(40), nullable=False, comment="UTC, ISO 8601, exactly as signed"),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False, comment="Ed25519 over tanggap_verify.head_message"),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True, comment="RFC 3161 TimeStampToken (DER)"),
        sa.Column("tsa_time", sa.DateTime(timezone=True), nullable=True, comment="the time the authority certified"),
        sa.Column("tsa_error", sa.Text(), nullable=True, comment="why anchoring failed, if it did"),
        sa.PrimaryKeyConstraint("id", name="pk_tree_heads"),
    )
    op.create_index("ix_tree_heads_size", "tree_heads", ["size"])
    op.create_index("ix_tree_heads_issued_at", "tree_heads", ["issued_at"])
    state = op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", _BIG, nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False, comment="hex subtree roots, largest first"),
        sa.Column("legacy_pending_max", _BIG, nullable=False,
                  comment="pending rows up to this id are events from before the log"),
        sa.Column("rejected", _BIG, nullable=False, comment="pending events refused (bad or no signature)"),
        sa.Column("backfill_closed", sa.Boolean(), nullable=False,
                  comment="a signed event is in the log: no unsigned one is signed"),
        sa.PrimaryKeyConstraint("id", name="pk_log_state"),
    )
    # the events so far, oldest first, queued for the worker to sign and log
    op.execute("INSERT INTO log_pending (case_event_id) SELECT id FROM case_events ORDER BY id")
    op.execute("INSERT INTO log_pending (security_event_id) SELECT id FROM security_events ORDER BY id")
    legacy = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM log_pending")).scalar_one()
    op.bulk_insert(state, [{"id": 1, "size": 0, "frontier": "", "legacy_pending_max": legacy, "rejected": 0,
                               "backfill_closed": False}])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in APPEND_ONLY:
        message = f"{table} is append-only: rows cannot be changed or deleted"
        if sqlite:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        else:
            op.execute(f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
                       f"BEGIN RAISE EXCEPTION '{message}'; END $$ LANGUAGE plpgsql")
            op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in APPEND_ONLY:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    op.drop_table("log_state")
    op.drop_index("ix_tree_heads_issued_at", table_name="tree_heads")
    op.drop_index("ix_tree_heads_size", table_name="tree_heads")
    op.drop_table("tree_heads")
    op.drop_table("log_nodes")
    op.drop_table("log_entries")
    op.drop_table("log_pending")
