"""response templates: ready texts for closing notes, reasons, instructions and public replies

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 15:00:00

Seed data (``response_templates:`` of the city's seed file); the forms offer the ones of their
field, for the case's category or for all.
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("form_key", sa.String(length=60), nullable=False, comment="the task form (tasks.yaml), or 'note'"),
        sa.Column("field", sa.String(length=60), nullable=False, comment="the form's text field it fills"),
        sa.Column("category_id", sa.Integer(), nullable=True, comment="NULL: every category"),
        sa.Column("title", sa.String(length=120), nullable=False, comment="what staff choose it by"),
        sa.Column("text_id", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"],
                                name=op.f("fk_response_templates_category_id_categories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_templates")),
        sa.UniqueConstraint("code", name=op.f("uq_response_templates_code")),
    )


def downgrade() -> None:
    op.drop_table("response_templates")
