"""Sandboxed evaluation of every BPMN and DMN expression and script.

SpiffWorkflow's default environment runs ``eval``/``exec`` with full builtins. Here every text is
compiled with RestrictedPython (so dunder access and imports are rejected at compile time) and
runs with guarded attribute, item and iteration access and a short list of builtins. Rejected
code raises ``ValueError``: SpiffWorkflow's error formatter crashes on a ``SyntaxError`` without
a line number.

There is no CPU or time limit: BPMN authoring stays with trusted administrators.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    safe_builtins,
)
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from workflow.messages import msg

_EXTRA_BUILTINS = {
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in ("min", "max", "sum", "any", "all", "list", "dict", "set", "enumerate",
                 "reversed", "filter", "map")
}

_BUILTINS = {**safe_builtins, **_EXTRA_BUILTINS}

_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
}


class _NoImports(RestrictingNodeTransformer):
    """RestrictedPython's policy, with imports refused when compiling rather than at run time."""

    def visit_Import(self, node):
        self.error(node, "imports are not allowed in BPMN scripts")
        return node

    visit_ImportFrom = visit_Import


@functools.lru_cache(maxsize=1024)
def _compile(source: str, mode: str):
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, filename="<bpmn>", policy=_NoImports)
    if result.errors or result.code is None:
        raise ValueError("rejected by the script sandbox: " + "; ".join(result.errors))
    return result.code


class SandboxEnvironment(TaskDataEnvironment):
    """A ``TaskDataEnvironment`` whose code is compiled by RestrictedPython.

    ``functions`` are callable from every expression (deadline helpers, for example).
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__(environment_globals=dict(functions or {}))

    def evaluate(self, expression, context, external_context=None):
        code = _compile(expression.strip(), "eval")
        scope = {**_GUARDS, **self.globals, **(external_context or {}), **context}
        return eval(code, scope)  # noqa: S307 - compiled by RestrictedPython above

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        code = _compile(script, "exec")
        context.update({**_GUARDS, **self.globals, **(external_context or {})})
        try:
            exec(code, context)  # noqa: S102 - compiled by RestrictedPython above
        finally:
            for key in _GUARDS:
                context.pop(key, None)
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def call_service(self, context, **kwargs):
        raise ValueError("service tasks are not available in Tanggap processes")


def make_script_engine(functions: Mapping[str, Callable[..., Any]] | None = None) -> PythonScriptEngine:
    return PythonScriptEngine(environment=SandboxEnvironment(functions))


def compile_problem(code: str, mode: str) -> str | None:
    """Why the sandbox refuses ``code`` (``mode`` "eval" for an expression, "exec" for a script),
    or None: the check a process version's files pass before they are deployed."""
    try:
        _compile(code.strip() if mode == "eval" else code, mode)
    except ValueError as exc:  # the sandbox's refusal: its own words (Line 1: ...) as the detail
        return msg("rejected by the script sandbox: {errors}",
                   errors=str(exc).removeprefix("rejected by the script sandbox: "))
    except SyntaxError as exc:
        return msg("not Python: {error}", error=str(exc))
    return None
