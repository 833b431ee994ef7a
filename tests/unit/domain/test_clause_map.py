"""``docs/clauses.md`` maps each clause of the notice to a test: every test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLAUSES = ROOT / "docs" / "clauses.md"
HERE = Path(__file__).resolve().parent
#: ``test_file.py::test_name`` (in tests/unit/domain) or ``tests/...::name``.
REFERENCE = re.compile(r"`((?:tests/[\w/]+/)?test_\w+\.py)::(\w+)`")


def defined_names(path: Path) -> set[str]:
    """Functions and assignments at the top level of a test module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    names |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return names


def test_clause_map_names_only_tests_that_exist() -> None:
    references = REFERENCE.findall(CLAUSES.read_text(encoding="utf-8"))
    assert len(references) > 50
    missing = [
        f"{file}::{name}"
        for file, name in references
        if name not in defined_names(ROOT / file if file.startswith("tests/") else HERE / file)
    ]
    assert missing == []


def test_clause_map_covers_every_clause_the_brief_lists() -> None:
    text = CLAUSES.read_text(encoding="utf-8")
    clauses = [f"三({n})" for n in "一二三四五六七"]
    clauses += ["四(一)", "四(二)", "四(四) 综合分析", "附件 三、工作专班"]
    clauses += [f"四(三){n}" for n in range(1, 7)]
    units = ["县人民法院", "县公安局", "县司法局", "县财政局", "县人力资源社会保障局", "县医保局"]
    units += ["县信访局", "县总工会", "县税务局"]
    assert [c for c in clauses + units if c not in text] == []
