"""incidents: the note an administrator closes an incident with

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 11:30:00

An incident is closed either by a retry or, when there is nothing to retry (a user's step that
failed and that the user repeated, a case handled by hand), by an administrator with a note
saying what was done. Earlier incidents have none.
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("resolution_note", sa.Text(), nullable=True,
                                         comment="what the administrator who closed it did (NULL: retried)"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE incidents DROP COLUMN resolution_note")  # SQLite 3.35+, in place
    else:
        op.drop_column("incidents", "resolution_note")
