"""A bounded replacement for tau2's `calculate` tool.

tau2 evaluates the expression with `eval` after a character filter, so `9**9**9` runs for
many seconds inside an episode. This evaluator accepts the same expressions and prints the
same result (`str(round(float(value), 2))`), but walks the syntax tree itself and refuses
work that cannot finish quickly.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any, cast

ALLOWED_CHARACTERS = frozenset("0123456789+-*/(). ")
MAX_EXPRESSION_LENGTH = 2000
MAX_INTEGER_BITS = 4096

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class CalculationError(ValueError):
    """The expression is invalid or too expensive to evaluate."""


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression the way tau2's `calculate` tool does, within bounds."""
    if not isinstance(expression, str):
        raise CalculationError("Expression must be a string")
    if not all(char in ALLOWED_CHARACTERS for char in expression):
        raise CalculationError("Invalid characters in expression")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CalculationError(f"Expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalculationError(f"Invalid expression: {exc.__class__.__name__}") from None
    try:
        value = _evaluate(tree.body)
        return str(round(float(value), 2))
    except ZeroDivisionError:
        raise CalculationError("Division by zero") from None
    except (OverflowError, RecursionError):
        raise CalculationError("Result is too large") from None


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(int | float, node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if type(node.op) in _BINARY:
            result = _BINARY[type(node.op)](left, right)
            _check_size(result)
            return result
    raise CalculationError("Invalid expression: only numbers, + - * / ** and parentheses")


def _power(base: int | float, exponent: int | float) -> int | float:
    """Exponentiation that refuses results too large to compute quickly."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1 and exponent * math.log2(abs(base)) > MAX_INTEGER_BITS:
            raise OverflowError
        return base**exponent
    result = float(base) ** float(exponent)  # raises OverflowError when it would be inf
    if isinstance(result, complex):
        raise CalculationError("Result is not a real number")
    return result


def _check_size(value: int | float) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
        raise OverflowError
