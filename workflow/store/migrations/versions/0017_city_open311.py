"""cities: the web domain (Open311 jurisdiction_id) and the contact for API users

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 10:00:00

Both start empty; the next ``tanggap seed`` writes the seed file's ``city.domain`` and
``city.contact``.
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite too): areas refer to cities, which a table copy would break
    op.add_column("cities", sa.Column("domain", sa.String(length=253), nullable=False, server_default="",
                                      comment="the city's web domain: its Open311 jurisdiction_id"))
    op.add_column("cities", sa.Column("contact", sa.String(length=500), nullable=False, server_default="",
                                      comment="who answers API users (Open311 discovery)"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE cities DROP COLUMN contact")  # SQLite 3.35+, in place
        op.execute("ALTER TABLE cities DROP COLUMN domain")
    else:
        op.drop_column("cities", "contact")
        op.drop_column("cities", "domain")
