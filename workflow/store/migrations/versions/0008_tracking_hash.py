"""tracking codes stored only as a keyed hash

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00

``reports.tracking_code`` becomes ``reports.tracking_hash``: the HMAC-SHA256 of each code under
the deployment's tracking key (``workflow.store.tracking``), so the codes themselves are gone from the
database. The key comes from the caller (``tanggap db upgrade`` passes it); a database with
reports cannot be migrated without it. On PostgreSQL the column is renamed and retyped in
place; SQLite's ALTER TABLE cannot change a column's type, so there the table is rebuilt under
the same name with the foreign keys deferred (the cases' references stay valid). Queued outbox
messages lose the code they carried. There is no way back: the codes cannot be recovered.

The comment of ``anonymous`` now says what it means (no staff role sees who reported).
"""
import hashlib
import hmac

import sqlalchemy as sa
from alembic import context, op

import workflow.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COMMENT = "HMAC-SHA256 of the tracking code under the tracking key (the code is never stored)"
ANONYMOUS = "the reporter's identity (name, e-mail, phone) is shown to no staff role"
OLD_ANONYMOUS = "hide the reporter's name from staff"
COLUMNS = ("id", "channel", "category_id", "description", "lat", "lon", "address", "area_id",
           "kelurahan_id", "reporter_name", "contact_email", "contact_phone", "anonymous",
           "confidential", "submitted_at", "attributes", "media_url")


def _sqlite_rebuild(code_column: str, code_type: sa.types.TypeEngine, new_column: str) -> None:
    """Rebuild ``reports`` with the code column renamed and retyped, inside the migration's
    transaction (where foreign keys cannot be switched off): with the foreign keys deferred,
    dropping the table leaves the cases' references unresolved until the rows are back in the
    new ``reports``; ``foreign_key_check`` proves nothing was left dangling."""
    op.execute("PRAGMA defer_foreign_keys=ON")
    op.execute("CREATE TEMPORARY TABLE _reports_old AS SELECT * FROM reports")
    op.execute("DROP TABLE reports")
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(new_column, code_type, nullable=False),
        sa.Column("channel", sa.Enum("web", "api", "open311", "demo", name="channel", native_enum=False,
                                     length=32), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("kelurahan_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.String(length=200), nullable=True),
        sa.Column("contact_email", sa.String(length=200), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", workflow.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("media_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_reports_area_id_areas")),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"], name=op.f("fk_reports_category_id_categories")),
        sa.ForeignKeyConstraint(["kelurahan_id"], ["areas.id"], name=op.f("fk_reports_kelurahan_id_areas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint(new_column, name=op.f(f"uq_reports_{new_column}")),
    )
    columns = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO reports ({columns}, {new_column}) SELECT {columns}, {code_column} FROM _reports_old")
    op.execute("DROP TABLE _reports_old")
    dangling = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise RuntimeError(f"rebuilding reports left foreign keys unresolved: {dangling[:5]}")


def upgrade() -> None:
    bind = op.get_bind()
    reports = sa.table("reports", sa.column("id", sa.Integer), sa.column("tracking_code", sa.String))
    rows = bind.execute(sa.select(reports.c.id, reports.c.tracking_code)).all()
    key = context.config.attributes.get("tracking_key")
    if rows and not key:
        raise RuntimeError("migration 0008 hashes the tracking codes of existing reports and needs "
                           "the tracking key: run it with `tanggap db upgrade`")
    if bind.dialect.name == "postgresql":
        op.alter_column("reports", "tracking_code", new_column_name="tracking_hash",
                        type_=sa.String(length=64), existing_nullable=False, comment=COMMENT)
        op.execute("ALTER TABLE reports RENAME CONSTRAINT uq_reports_tracking_code TO uq_reports_tracking_hash")
        op.alter_column("reports", "anonymous", existing_type=sa.Boolean(), existing_nullable=False,
                        comment=ANONYMOUS, existing_comment=OLD_ANONYMOUS)
    else:
        _sqlite_rebuild("tracking_code", sa.String(length=64), "tracking_hash")
    hashed = sa.table("reports", sa.column("id", sa.Integer), sa.column("tracking_hash", sa.String))
    for report_id, code in rows:
        digest = hmac.new(key.encode(), code.encode(), hashlib.sha256).hexdigest()
        bind.execute(hashed.update().where(hashed.c.id == report_id).values(tracking_hash=digest))
    # queued messages carried the code too (the outbox is a queue, not a record: it may change)
    outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))
    for message_id, payload in bind.execute(sa.select(outbox.c.id, outbox.c.payload)).all():
        if isinstance(payload, dict) and "tracking_code" in payload:
            kept = {k: v for k, v in payload.items() if k != "tracking_code"}
            bind.execute(outbox.update().where(outbox.c.id == message_id).values(payload=kept))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM reports")).scalar():
        raise RuntimeError("tracking codes cannot be recovered from their hashes: "
                           "downgrading past 0008 needs an empty reports table")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE reports RENAME CONSTRAINT uq_reports_tracking_hash TO uq_reports_tracking_code")
        op.alter_column("reports", "tracking_hash", new_column_name="tracking_code",
                        type_=sa.String(length=20), existing_nullable=False, comment=None)
        op.alter_column("reports", "anonymous", existing_type=sa.Boolean(), existing_nullable=False,
                        comment=OLD_ANONYMOUS, existing_comment=ANONYMOUS)
    else:
        _sqlite_rebuild("tracking_hash", sa.String(length=20), "tracking_code")
