"""process versions: numbered, deployed by whom and when; background migrations of open cases

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 13:30:00

Existing specs become versions 1, 2, ... in the order they were stored, deployed when they were
stored; the latest is the one new cases start on, as before.
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild()
    else:
        _postgresql_alter()
    _migration_tables()


SOURCE_COMMENT = "{file name: text}: the .bpmn, .dmn and tasks.yaml it was made of"
OLD_COLUMNS = "id, content_hash, process_id, spec_json, source, created_at"


def _numbered(rows) -> list[dict]:
    """Existing specs: versions 1, 2, ... in the order they were stored, deployed when stored."""
    return [{"v": n, "d": created_at, "i": spec_id} for n, (spec_id, created_at) in enumerate(rows, start=1)]


def _postgresql_alter() -> None:
    op.add_column("process_specs", sa.Column("version", sa.Integer(), nullable=True,
                                             comment="1, 2, ... in the order first deployed"))
    op.add_column("process_specs", sa.Column(
        "deployed_at", sa.DateTime(timezone=True), nullable=True,
        comment="when it was (last) deployed: the latest is the one new cases start on"))
    op.add_column("process_specs", sa.Column("deployed_by_id", sa.Integer(), nullable=True,
                                             comment="NULL: the files of a release"))
    op.add_column("process_specs", sa.Column("note", sa.Text(), nullable=False, server_default="",
                                             comment="what changed, in the deployer's words"))
    op.alter_column("process_specs", "source", existing_type=sa.JSON(), existing_nullable=False,
                    comment=SOURCE_COMMENT, existing_comment="{file name: text} of the bpmn/ files it came from")
    rows = op.get_bind().execute(sa.text("SELECT id, created_at FROM process_specs ORDER BY id")).all()
    for values in _numbered(rows):
        op.get_bind().execute(sa.text("UPDATE process_specs SET version = :v, deployed_at = :d WHERE id = :i"), values)
    op.alter_column("process_specs", "version", existing_type=sa.Integer(), nullable=False)
    op.alter_column("process_specs", "deployed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_unique_constraint("uq_process_specs_version", "process_specs", ["version"])
    op.create_index("ix_process_specs_deployed_at", "process_specs", ["deployed_at"])
    op.create_foreign_key("fk_process_specs_deployed_by_id_users", "process_specs", "users",
                          ["deployed_by_id"], ["id"])


def _sqlite_rebuild() -> None:
    """SQLite cannot add NOT NULL columns without a default or constraints in place: the table is
    built again under its own name, inside the migration's transaction (where foreign keys cannot
    be switched off), with the foreign keys deferred so that the cases' references are resolved
    again once the rows are back (as migration 0008 does for reports)."""
    op.execute("PRAGMA defer_foreign_keys=ON")
    op.execute(f"CREATE TEMPORARY TABLE _process_specs_old AS SELECT {OLD_COLUMNS} FROM process_specs")
    op.execute("DROP TABLE process_specs")
    op.create_table(
        "process_specs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False, comment=SOURCE_COMMENT),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, 2, ... in the order first deployed"),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False,
                  comment="when it was (last) deployed: the latest is the one new cases start on"),
        sa.Column("deployed_by_id", sa.Integer(), nullable=True, comment="NULL: the files of a release"),
        sa.Column("note", sa.Text(), nullable=False, server_default="", comment="what changed, in the deployer's words"),
        sa.ForeignKeyConstraint(["deployed_by_id"], ["users.id"], name="fk_process_specs_deployed_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_process_specs"),
        sa.UniqueConstraint("content_hash", name="uq_process_specs_content_hash"),
        sa.UniqueConstraint("version", name="uq_process_specs_version"),
    )
    op.create_index("ix_process_specs_deployed_at", "process_specs", ["deployed_at"])
    op.execute(f"INSERT INTO process_specs ({OLD_COLUMNS}, version, deployed_at) "
               f"SELECT {OLD_COLUMNS}, (SELECT count(*) FROM _process_specs_old o WHERE o.id <= s.id), created_at "
               f"FROM _process_specs_old s")
    op.execute("DROP TABLE _process_specs_old")
    dangling = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise RuntimeError(f"rebuilding process_specs left foreign keys unresolved: {dangling[:5]}")


def _migration_tables() -> None:
    op.create_table(
        "process_migrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_spec_id", sa.Integer(), nullable=False),
        sa.Column("to_spec_id", sa.Integer(), nullable=False),
        sa.Column("case_filter", sa.JSON(), nullable=False,
                  comment="which open cases of the version: category, agency, stage"),
        sa.Column("state", sa.String(16), nullable=False, comment="queued / running / done / cancelled"),
        sa.Column("total", sa.Integer(), nullable=False, comment="cases chosen when it was queued"),
        sa.Column("migrated", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("cursor_case_id", sa.Integer(), nullable=False, comment="every case up to this id is handled"),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(80), nullable=True, comment="worker running it"),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True,
                  comment="another worker may take it over after"),
        sa.ForeignKeyConstraint(["from_spec_id"], ["process_specs.id"],
                                name="fk_process_migrations_from_spec_id_process_specs"),
        sa.ForeignKeyConstraint(["to_spec_id"], ["process_specs.id"],
                                name="fk_process_migrations_to_spec_id_process_specs"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name="fk_process_migrations_created_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_process_migrations"),
    )
    op.create_index("ix_process_migrations_state", "process_migrations", ["state"])
    op.create_table(
        "migration_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("migration_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, comment="in the application's message form (workflow.messages)"),
        sa.ForeignKeyConstraint(["migration_id"], ["process_migrations.id"],
                                name="fk_migration_refusals_migration_id_process_migrations"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_migration_refusals_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_migration_refusals"),
        sa.UniqueConstraint("migration_id", "case_id", name="uq_migration_refusals_migration_id"),
    )
    op.create_index("ix_migration_refusals_migration_id", "migration_refusals", ["migration_id"])


def downgrade() -> None:
    op.drop_index("ix_migration_refusals_migration_id", table_name="migration_refusals")
    op.drop_table("migration_refusals")
    op.drop_index("ix_process_migrations_state", table_name="process_migrations")
    op.drop_table("process_migrations")
    with op.batch_alter_table("process_specs") as batch:
        batch.drop_constraint("fk_process_specs_deployed_by_id_users", type_="foreignkey")
        batch.drop_index("ix_process_specs_deployed_at")
        batch.drop_constraint("uq_process_specs_version", type_="unique")
        batch.drop_column("note")
        batch.drop_column("deployed_by_id")
        batch.drop_column("deployed_at")
        batch.drop_column("version")
