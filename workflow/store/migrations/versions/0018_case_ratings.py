"""the reporter's rating of the handling, kept on the case

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:00:00

Confirming the fix, the reporter may rate the handling (the feedback form's ``rating: score``
field in ``bpmn/tasks.yaml``) and comment on it. The completion's audit event carries both; the
case keeps them so that the dashboard averages ratings per OPD and period from
``ix_cases_rated``, which is partial: unrated cases cost it nothing. Earlier cases have no rating.
"""
import sqlalchemy as sa
from alembic import op

import workflow.store.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

RATED = sa.text("rated_at IS NOT NULL")


def upgrade() -> None:
    op.add_column("cases", sa.Column(
        "rating", sa.SmallInteger(), nullable=True,
        comment="the reporter's rating of the handling when confirming the fix (tasks.yaml: rating)"))
    op.add_column("cases", sa.Column("rating_comment", sa.Text(), nullable=True,
                                     comment="the reporter's comment with the rating"))
    op.add_column("cases", sa.Column("rated_at", workflow.store.types.UTCDateTime(timezone=True), nullable=True,
                                     comment="when the reporter rated (the confirmation)"))
    op.create_index("ix_cases_rated", "cases", ["rated_at", "agency_id", "rating"],
                    sqlite_where=RATED, postgresql_where=RATED)


def downgrade() -> None:
    op.drop_index("ix_cases_rated", table_name="cases")
    op.drop_column("cases", "rated_at")
    op.drop_column("cases", "rating_comment")
    op.drop_column("cases", "rating")
