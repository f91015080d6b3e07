"""Read models: what screens and APIs show, from projection and audit tables (no workflow is
ever deserialized here)."""
