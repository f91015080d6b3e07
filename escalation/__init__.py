"""SLA calendar, escalation policy and the timer sweeper (imports ``workflow``, never ``web``).

The engine already exposes the seam this package plugs into: ``ProcessEngine`` takes an
``add_business_time(start, duration)`` function for ``sla_due`` deadlines, and the ``timers``
projection lists every waiting deadline with its due time.
"""
