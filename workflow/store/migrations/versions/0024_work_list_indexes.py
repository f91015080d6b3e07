"""the work lists read from their own indexes: the inbox by kecamatan and category, the
escalation view in deadline order

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:30:00

``work_items`` keeps the case's category and kecamatan with each item (written with the item's
other scope columns), so that the inbox filtered by either reads a page in deadline order from a
partial index of open items instead of joining every open item of the scope to ``cases``; the
inbox's indexes end in the item id, which breaks ties as the inbox sorts.
``escalations.due_at`` is the late task's deadline (the case's, kept while the escalation is
open), so the escalation view reads its page of late tasks in deadline order from a partial index
of open escalations instead of joining and sorting them all through ``cases``. Existing rows take
their case's values (an escalation without a deadline its raising time). The index on
(resolved_at, agency_id) gives way to partial ones.
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

OPEN_ITEM = sa.text("completed_at IS NULL")
OPEN_ESCALATION = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    # plain ADD COLUMN (SQLite too): escalations and notes refer to work_items, which a table
    # copy would break; SQLite takes a column's foreign key in its definition only
    for column, table, comment in (
            ("category_id", "categories", "the case's, kept with the open item: the inbox filters on it"),
            ("area_id", "areas", "the case's kecamatan, kept with the open item: the inbox filters on it")):
        name = f"fk_work_items_{column}_{table}"
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE work_items ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {table} (id)")
        else:
            op.add_column("work_items", sa.Column(column, sa.Integer(), nullable=True, comment=comment))
            op.create_foreign_key(name, "work_items", table, [column], ["id"])
    op.execute("UPDATE work_items SET category_id = (SELECT category_id FROM cases WHERE cases.id = work_items.case_id), "
               "area_id = (SELECT area_id FROM cases WHERE cases.id = work_items.case_id)")
    # the id breaks ties as the inbox sorts: PostgreSQL reads the page in order without sorting
    # the items of one deadline (SQLite's indexes end in the rowid anyway)
    op.drop_index("ix_work_items_inbox", table_name="work_items")
    for name, columns in (("ix_work_items_inbox", []), ("ix_work_items_inbox_area", ["area_id"]),
                          ("ix_work_items_inbox_category", ["category_id"])):
        op.create_index(name, "work_items", ["role", "agency_id", *columns, "due_at", "id"],
                        sqlite_where=OPEN_ITEM, postgresql_where=OPEN_ITEM)

    op.add_column("escalations", sa.Column(
        "due_at", sa.DateTime(timezone=True), nullable=True,
        comment="the late task's deadline (the case's, kept while open; its raising time if it has none)"))
    op.execute("UPDATE escalations SET due_at = COALESCE((SELECT due_at FROM cases WHERE cases.id = escalations.case_id), "
               "raised_at)")
    with op.batch_alter_table("escalations") as batch_op:  # nothing refers to escalations
        batch_op.alter_column("due_at", existing_type=sa.DateTime(timezone=True), nullable=False,
                              existing_comment="the late task's deadline (the case's, kept while open; "
                                               "its raising time if it has none)")
        batch_op.drop_index("ix_escalations_open")
    op.create_index("ix_escalations_open_due", "escalations", ["due_at", "case_id", "task_name"],
                    sqlite_where=OPEN_ESCALATION, postgresql_where=OPEN_ESCALATION)
    op.create_index("ix_escalations_open_agency_due", "escalations", ["agency_id", "due_at", "case_id", "task_name"],
                    sqlite_where=OPEN_ESCALATION, postgresql_where=OPEN_ESCALATION)
    op.create_index("ix_escalations_open_level", "escalations", ["level", "agency_id"],
                    sqlite_where=OPEN_ESCALATION, postgresql_where=OPEN_ESCALATION)


def downgrade() -> None:
    for name in ("ix_escalations_open_level", "ix_escalations_open_agency_due", "ix_escalations_open_due"):
        op.drop_index(name, table_name="escalations")
    with op.batch_alter_table("escalations") as batch_op:
        batch_op.drop_column("due_at")
        batch_op.create_index("ix_escalations_open", ["resolved_at", "agency_id"])
    for name in ("ix_work_items_inbox_category", "ix_work_items_inbox_area", "ix_work_items_inbox"):
        op.drop_index(name, table_name="work_items")
    op.create_index("ix_work_items_inbox", "work_items", ["role", "agency_id", "due_at"],
                    sqlite_where=OPEN_ITEM, postgresql_where=OPEN_ITEM)
    with op.batch_alter_table("work_items") as batch_op:  # PostgreSQL drops their foreign keys with them
        batch_op.drop_column("area_id")
        batch_op.drop_column("category_id")
