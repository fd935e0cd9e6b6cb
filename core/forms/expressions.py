"""A small, sandboxed expression language for ``show_if`` / ``required_if``.

Examples::

    principal_is_applicant == false
    marital_status == "married"
    age >= 60 and household_division != ""
    "x" in services and not urgent

Text is parsed with :func:`ast.parse` (``mode="eval"``) and the tree is
checked against a strict whitelist; nothing is ever compiled to bytecode or
executed. Allowed: string/number literals, ``true``/``false``/``null`` (and
Python's ``True``/``False``/``None``), field names (looked up in the form's
values; an unknown name is ``None``), comparisons (``== != < <= > >= in``
``not in``, chained too), ``and``/``or``/``not``, parentheses, unary minus
and list/tuple literals of constants (``kind in ["a", "b"]``). A comparison
between incompatible values (``None < 3``) is false rather than an error.
"""
from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

MAX_LENGTH = 500
MAX_NODES = 120

NAMED_CONSTANTS = {"true": True, "false": False, "null": None}

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}

#: Friendly names for constructs people might try.
_CONSTRUCTS = {
    "Call": "function call",
    "Attribute": "attribute access",
    "Subscript": "subscript",
    "Slice": "slice",
    "Lambda": "lambda",
    "ListComp": "comprehension",
    "SetComp": "comprehension",
    "DictComp": "comprehension",
    "GeneratorExp": "comprehension",
    "JoinedStr": "f-string",
    "FormattedValue": "f-string",
    "NamedExpr": "assignment expression (:=)",
    "BinOp": "arithmetic operator",
    "IfExp": "conditional expression",
    "Dict": "dict literal",
    "Set": "set literal",
    "Starred": "starred expression",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "Is": "'is' comparison",
    "IsNot": "'is not' comparison",
    "Invert": "operator '~'",
}


class ExpressionError(ValueError):
    """The expression is not valid in the restricted language."""


@dataclass(frozen=True)
class Expression:
    text: str
    names: frozenset = field(default_factory=frozenset)
    _tree: ast.AST = field(default=None, repr=False, compare=False)

    def evaluate(self, values) -> bool:
        """Evaluate against ``values`` (a mapping of field name to value)."""
        return bool(_Eval(values or {}).visit(self._tree.body))


def _construct(node) -> str:
    return _CONSTRUCTS.get(type(node).__name__, type(node).__name__)


def _is_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in NAMED_CONSTANTS or node.id in ("True", "False", "None")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    return False


def _check(node, names: set) -> None:
    if isinstance(node, ast.Constant):
        if type(node.value) not in (str, int, float, bool, type(None)):
            raise ExpressionError(f"literal of type {type(node.value).__name__} is not allowed")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionError(f"name {node.id!r} is not allowed (names must not start with '_')")
        if not isinstance(node.ctx, ast.Load):
            raise ExpressionError(f"assignment to {node.id!r} is not allowed")
        if node.id not in NAMED_CONSTANTS:
            names.add(node.id)
        return
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.Not, ast.USub)):
            raise ExpressionError(f"{_construct(node.op)} is not allowed")
        _check(node.operand, names)
        return
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise ExpressionError(f"{_construct(op)} is not allowed")
        for part in (node.left, *node.comparators):
            _check(part, names)
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        for elt in node.elts:
            if not _is_literal(elt):
                raise ExpressionError(f"a list may only hold literals, not {_construct(elt)}")
            _check(elt, names)
        return
    raise ExpressionError(f"{_construct(node)} is not allowed")


def compile_expression(text: str) -> Expression:
    """Parse and validate ``text`` once (cached); raise :class:`ExpressionError`."""
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text")
    return _compile(text)


@lru_cache(maxsize=1024)
def _compile(text: str) -> Expression:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot parse expression: {type(exc).__name__}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExpressionError(f"expression is too complex ({count} nodes, at most {MAX_NODES})")
    names: set = set()
    _check(tree.body, names)
    return Expression(text, frozenset(names), tree)


class _Eval:
    def __init__(self, values):
        self.values = values

    def visit(self, node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in NAMED_CONSTANTS:
                return NAMED_CONSTANTS[node.id]
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            return self.values.get(node.id)
        if isinstance(node, ast.BoolOp):
            truth = (bool(self.visit(v)) for v in node.values)
            return all(truth) if isinstance(node.op, ast.And) else any(truth)
        if isinstance(node, ast.UnaryOp):
            value = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return not value
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                return None
            return -value
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = self.visit(comp)
                try:
                    if not _COMPARE[type(op)](left, right):
                        return False
                except (TypeError, ValueError, ArithmeticError):
                    return False
                left = right
            return True
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.visit(e) for e in node.elts]
        raise ExpressionError(f"{_construct(node)} is not allowed")  # unreachable after _check
