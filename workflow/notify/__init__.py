"""Telling reporters and followers what happened to their case.

``notices``: who follows a case and which audit actions they are told of (one template per
action and language under ``templates/``: an action without one is not told). ``render``: a
notice as text and HTML. ``channels``: the adapters that send it. ``delivery``: the worker that
claims queued notices with a lease, sends them and retries with backoff, then gives up into an
incident.
"""
