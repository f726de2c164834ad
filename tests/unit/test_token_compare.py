"""Tokens are compared in constant time, everywhere: no ``==``, ``!=`` or ``in`` on anything
named like a token in dockstate's source, only ``token_matches`` (hmac.compare_digest). An
``==`` returns at the first differing character, which lets a caller time its way to the
token one character at a time."""

from __future__ import annotations

import ast
from pathlib import Path

from dockstate.server._auth import token_matches

SOURCE = Path(__file__).resolve().parents[2] / "src" / "dockstate"
EQUALITY = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _names(node: ast.AST) -> set[str]:
    return {
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Name | ast.Attribute)
    }


def test_no_token_is_compared_with_equality() -> None:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, EQUALITY) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any("token" in name.lower() for o in operands for name in _names(o)):
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert found == []


def test_token_matches_uses_compare_digest() -> None:
    source = (SOURCE / "server" / "_auth.py").read_text()
    assert "hmac.compare_digest" in source


def test_token_matches() -> None:
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches("", "s3cret")
    assert not token_matches(None, "s3cret")
    assert not token_matches("s3cr\u00e9t", "s3cret")
    assert not token_matches("\ud800", "s3cret")  # a lone surrogate from a JSON hello
