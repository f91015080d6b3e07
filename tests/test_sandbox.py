"""BPMN expressions run in a RestrictedPython sandbox."""

from __future__ import annotations

import pytest

from workflow.engine.scripting import SandboxEnvironment


@pytest.fixture
def env():
    return SandboxEnvironment({"double": lambda x: 2 * x})


def test_ordinary_expressions_and_scripts_work(env):
    assert env.evaluate('decision == "reject"', {"decision": "reject"}) is True
    assert env.evaluate("double(n) + len(items)", {"n": 3, "items": [1, 2]}) == 8
    assert env.evaluate("[x for x in items if x > limit]", {"items": [1, 5, 9], "limit": 4}) == [5, 9]
    data = {"transfer_count": 1, "agency": "DLH", "transfer_to": "DPU"}
    env.execute("transfer_count = transfer_count + 1\nprevious_agency = agency\nagency = transfer_to", data)
    assert data == {"transfer_count": 2, "agency": "DPU", "transfer_to": "DPU", "previous_agency": "DLH"}


@pytest.mark.parametrize("code", [
    "__import__('os').system('true')",
    "().__class__.__base__.__subclasses__()",
    "open('/etc/passwd').read()",
    "getattr(1, '__class__')",
])
def test_escapes_are_refused(env, code):
    with pytest.raises((ValueError, NameError)):
        env.evaluate(code, {})


def test_imports_are_refused_in_scripts(env):
    with pytest.raises(ValueError, match="imports are not allowed"):
        env.execute("import os", {})
    with pytest.raises(ValueError, match="imports are not allowed"):
        env.execute("from os import path", {})
    with pytest.raises(ValueError, match="sandbox"):
        env.execute("x = ().__class__", {})
