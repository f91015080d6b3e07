"""Composition root: the ``tanggap`` command wires ``workflow``, ``escalation`` and ``web``."""
