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
    with op.batch_alter_table("process_specs") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True,
                                   comment="1, 2, ... in the order first deployed"))
        batch.add_column(sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=True,
                                   comment="when it was (last) deployed: the latest is the one new cases start on"))
        batch.add_column(sa.Column("deployed_by_id", sa.Integer(), nullable=True,
                                   comment="NULL: the files of a release"))
        batch.add_column(sa.Column("note", sa.Text(), nullable=False, server_default="",
                                   comment="what changed, in the deployer's words"))
        batch.alter_column("source", existing_type=sa.JSON(), existing_nullable=False,
                           comment="{file name: text}: the .bpmn, .dmn and tasks.yaml it was made of",
                           existing_comment="{file name: text} of the bpmn/ files it came from")
    rows = op.get_bind().execute(sa.text("SELECT id, created_at FROM process_specs ORDER BY id")).all()
    for number, (spec_id, created_at) in enumerate(rows, start=1):
        op.get_bind().execute(sa.text("UPDATE process_specs SET version = :v, deployed_at = :d WHERE id = :i"),
                              {"v": number, "d": created_at, "i": spec_id})
    with op.batch_alter_table("process_specs") as batch:
        batch.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("deployed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_unique_constraint("uq_process_specs_version", ["version"])
        batch.create_index("ix_process_specs_deployed_at", ["deployed_at"])
        batch.create_foreign_key("fk_process_specs_deployed_by_id_users", "users", ["deployed_by_id"], ["id"])

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
