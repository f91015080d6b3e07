"""SLA calendar, escalation policy and the timer sweeper (imports ``workflow``, never ``web``).

It plugs into the engine through two seams: ``ProcessEngine`` takes a ``calendar`` (the
``workflow.engine.sla.SlaCalendar`` protocol, implemented by ``calendar.CityCalendar``, the city's calendar
in the database) for ``sla_due`` deadlines, wired in by ``wiring.build``; and the ``timers`` projection lists every
waiting deadline, which ``sweeper`` fires.
"""
