"""Tanggap's domain: persistence, the BPMN engine glue, audit trail, commands and queries.

Nothing in this package imports Flask, ``web`` or ``escalation``: it runs the same from a CLI,
a worker or a test without an application context.
"""
