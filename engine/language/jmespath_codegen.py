"""Compile JMESPath expressions to specialised Python source.

jmespath's ``TreeInterpreter`` walks the AST on every search: one method dispatch per
node, generic ``isinstance``/``try`` checks everywhere. Here the AST (from jmespath's own
parser, so syntax and syntax errors are identical) is walked once, by ``PyGen``, which
emits straight-line Python statements; the result is ``exec``-ed into a plain function.

* Every node's result goes to a fresh temporary (``_t17``), so a sub-result can be used
  twice without being recomputed and generated code stays readable.
* Each node is emitted as a fast path for the exact JSON types (``type(x) is dict``) with
  a call to a helper in ``jmespath_support`` otherwise; the helpers are the interpreter's
  own rules, so subclasses and odd objects get jmespath's answer, not an approximation.
* ``||``, ``&&``, filters and multi-selects emit ``if`` blocks, so nothing is evaluated
  that the interpreter would not evaluate (a function there may raise). Projections
  become list comprehensions when their body is a single expression, loops otherwise.
* Functions are called straight from jmespath's function table once inline type checks
  pass; when they fail, ``Functions.call_function`` runs and raises jmespath's error.
  Unknown names and wrong arity raise when the generated code runs, as jmespath does.
* Sub-trees that do not depend on the input (``length(`[1, 2]`)``) are evaluated once
  at generation time by the interpreter; if that raises, they are left to run time.
* ``cse``: results of sub-expressions that cannot be fresh containers (lookups,
  comparisons, scalar functions) are memoised per ``(src, AST)`` for the block being
  emitted; nested blocks get a copy of the memo, so nothing leaks out of a branch.
* Anything without a specialisation, and sub-trees nested too deeply for Python's block
  limits, are handed to jmespath's interpreter with the same ``Functions`` instance.

The generator is ``PyGen``, assembled from ``codegen_dispatch`` (state, bookkeeping,
dispatch, fallback), ``codegen_expressions`` (paths, projections, multi-selects, logic,
comparisons) and ``codegen_calls`` (functions, expression references), with
``codegen_facts`` (what a sub-tree is: memo key, constant, borrowed) and
``codegen_blocks`` (blocks of statements, inline truth tests and literals).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jmespath import parser as jparser

from .codegen_blocks import Block, SharedLocal
from .codegen_calls import CallEmitters
from .codegen_expressions import ExpressionEmitters
from .codegen_facts import SubtreeFacts

if TYPE_CHECKING:
    from ..contracts.functions import FunctionDef
    from .plan import SettingDecl

__all__ = ["CompiledExpression", "PyGen", "compile_expression"]


class PyGen(ExpressionEmitters, CallEmitters):
    """Generates Python statements that evaluate JMESPath ASTs with jmespath's exact semantics."""

    def gen(
        self,
        node: dict[str, Any],
        src: str,
        out: list[str],
        indent: str,
        *,
        root_bindings: Mapping[str, str] | None = None,
        cse: dict[Any, Any] | None = None,
    ) -> str:
        """Append statements evaluating ``node`` on local ``src``; return the result expression."""
        bindings = dict(root_bindings or {})
        memo: dict[Any, str] = cse if cse is not None else {}
        cx = Block(out, indent, memo, src, bindings, tuple(sorted(bindings.items())))
        return self._g(node, src, cx)

    @property
    def facts(self) -> SubtreeFacts:
        """What the generator knows of each sub-tree (memo text, constant, borrowed)."""
        return self._facts

    def share(
        self,
        text: str,
        bindings: Mapping[str, str],
        out: list[str],
        indent: str,
        cse: dict[Any, Any],
    ) -> None:
        """Emit the local that a call (memo ``text``) shared by sibling rules starts in
        (``codegen_sharing``), and put in ``cse`` the entry that makes each sibling use
        it; nothing when ``cse`` already holds the call's result."""
        key = ("_scope", tuple(sorted(bindings.items())), text)
        if key not in cse:
            local = self._tmp("_sh")
            out.append(f"{indent}{local} = _UNSET")
            cse[key] = SharedLocal(local)

    def plain_settings(self, settings: Mapping[str, SettingDecl]) -> None:
        """The local ``settings`` holds the mapping's ``settings``, checked against their
        declared types (``resolve_settings``): those declared neither integer nor number
        hold no number, so their truth is Python's."""
        numbers = ("integer", "number")
        names = frozenset(n for n, d in settings.items() if d.type not in numbers)
        self._plain_fields["settings"] = names

    def fresh(self) -> str:
        """A new temporary's name."""
        return self._tmp()

    def truth(self, atom: str) -> str:
        """A Python test that ``atom`` (a name) is true by JMESPath's rules."""
        return self._truth(atom)


class CompiledExpression(functools.partial[Any]):
    """A JMESPath expression compiled to a Python function; call it with the document.

    A ``functools.partial`` of the generated function, so that calling it costs no extra
    Python frame; ``.function`` is the generated function itself.
    """

    expression: str
    source: str
    fallback_nodes: int

    def __new__(
        cls, expression: str, function: Callable[[Any], Any], source: str, fallback_nodes: int
    ) -> CompiledExpression:
        self = super().__new__(cls, function)
        self.expression = expression
        self.source = source
        self.fallback_nodes = fallback_nodes
        return self

    @property
    def function(self) -> Callable[[Any], Any]:
        return self.func

    def __repr__(self) -> str:
        return f"CompiledExpression({self.expression!r})"


def compile_expression(
    expression: str, functions: Mapping[str, FunctionDef] | None = None
) -> CompiledExpression:
    """Parse ``expression`` (jmespath's parser and errors) and compile it to Python."""
    return _compile(expression, PyGen(functions))


def _compile(expression: str, gen: PyGen) -> CompiledExpression:
    parsed = jparser.Parser().parse(expression)
    lines = ["def _f(data):"]
    result = gen.gen(parsed.parsed, "data", lines, "    ")  # type: ignore[arg-type]
    lines.append(f"    return {result}")
    code = "\n".join(lines)
    exec(compile(code, f"<jmespath {expression!r}>", "exec"), gen.namespace)
    source = "\n\n".join([*gen.helper_source, code]) + "\n"
    return CompiledExpression(expression, gen.namespace["_f"], source, gen.fallback_nodes)
