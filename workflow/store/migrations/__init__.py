"""Alembic migrations. Run them with ``tanggap db upgrade``; see :mod:`workflow.schema`."""
