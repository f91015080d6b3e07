"""Persistence: engine and sessions, typed models, migrations, the unit of work, the audit
trail, reference data, counters and photo files."""
