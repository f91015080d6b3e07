"""areas as polygons; the places of cases, indexed

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 14:00:00

Kecamatan and kelurahan carry GeoJSON geometry (``tanggap seed`` and ``tanggap areas import``
fill it), and the city the hash of it; the coarse city outline is gone (the kecamatan are the
city). Categories say how near an open report counts as the same problem. Cases carry their
report's point, so "open reports of this category near here" and "recent reports near here" are
index ranges; the reports merged into a case (its supporters) are an index lookup.
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('triage', 'in_progress', 'resolved')")


def upgrade() -> None:
    # plain ADD/DROP COLUMN (SQLite too): areas refer to cities, which a table copy would break
    op.add_column("areas", sa.Column("geometry", sa.JSON(), nullable=True,
                                     comment="GeoJSON Polygon or MultiPolygon (longitude first); see workflow.areas"))
    op.add_column("cities", sa.Column("geometry_hash", sa.String(length=64), nullable=True,
                                      comment="SHA-256 of the areas' geometry; the shapes are built once per value"))
    op.add_column("cities", sa.Column("duplicate_days", sa.Integer(), nullable=False, server_default="30",
                                      comment="how far back triage looks for duplicates"))
    op.drop_column("cities", "boundary")
    op.add_column("categories", sa.Column(
        "nearby_m", sa.Integer(), nullable=False, server_default="200",
        comment="open reports of the category this close count as the same problem (metres)"))
    op.add_column("cases", sa.Column(
        "lat", sa.Float(), nullable=True,
        comment="the point the reporter gave (NULL: it named an area only), for the place indexes"))
    op.add_column("cases", sa.Column("lon", sa.Float(), nullable=True))
    op.execute("UPDATE cases SET lat = (SELECT lat FROM reports WHERE reports.id = cases.report_id), "
               "lon = (SELECT lon FROM reports WHERE reports.id = cases.report_id)")
    op.create_index("ix_cases_open_place", "cases", ["category_id", "lat", "lon"],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_cases_recent_place", "cases", ["category_id", "created_at", "lat", "lon"])
    merged = sa.text("merged_into_id IS NOT NULL")
    op.create_index("ix_cases_merged_into", "cases", ["merged_into_id"], sqlite_where=merged, postgresql_where=merged)


def downgrade() -> None:
    op.drop_index("ix_cases_merged_into", table_name="cases")
    op.drop_index("ix_cases_recent_place", table_name="cases")
    op.drop_index("ix_cases_open_place", table_name="cases")
    op.drop_column("cases", "lon")
    op.drop_column("cases", "lat")
    op.drop_column("categories", "nearby_m")
    op.add_column("cities", sa.Column("boundary", sa.JSON(), nullable=False, server_default="{}"))
    op.drop_column("cities", "duplicate_days")
    op.drop_column("cities", "geometry_hash")
    op.drop_column("areas", "geometry")
