"""response templates: the title staff choose a ready text by, in both languages

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 18:00:00

``title`` becomes ``title_id``; ``title_en`` starts as a copy of it (the next ``tanggap seed``
writes the seed file's English title).
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("response_templates", schema=None) as batch_op:
        batch_op.alter_column("title", new_column_name="title_id", existing_type=sa.String(length=120),
                              existing_nullable=False, comment="what staff choose it by (Indonesian)")
        batch_op.add_column(sa.Column("title_en", sa.String(length=120), nullable=True,
                                      comment="what staff choose it by (English)"))
    op.execute("UPDATE response_templates SET title_en = title_id")
    with op.batch_alter_table("response_templates", schema=None) as batch_op:
        batch_op.alter_column("title_en", existing_type=sa.String(length=120), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("response_templates", schema=None) as batch_op:
        batch_op.drop_column("title_en")
        batch_op.alter_column("title_id", new_column_name="title", existing_type=sa.String(length=120),
                              existing_nullable=False, comment="what staff choose it by")
