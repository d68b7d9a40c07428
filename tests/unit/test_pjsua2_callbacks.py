"""relais' pjproject build calls some pjsua2 Call callbacks in C++ only (patch 0004: no SWIG
director for them, so they cost no trip into Python on every call). A Python override of one
of them would silently never run: no pjsua2 Call class of relais or of its test phones may
define one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATCH = (
    ROOT
    / "scripts"
    / "pjproject"
    / "patches"
    / "0004-pjsua2-no-director-for-unused-call-callbacks.patch"
)
SOURCES = ("switch", "ivr", "media", "relais", "tests")


def undirected() -> set[str]:
    """The Call methods the patch takes the director from."""
    return set(re.findall(r'^\+%feature\("nodirector"\) pj::Call::(\w+);', PATCH.read_text(), re.M))


def call_classes() -> dict[str, set[str]]:
    """ "file:Class" -> the methods it defines, for every class deriving from pj.Call (or from
    one of those) in relais' sources and tests."""
    found: dict[str, set[str]] = {}
    bases_of: dict[str, list[str]] = {}
    methods_of: dict[str, tuple[str, set[str]]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    bases_of[node.name] = [ast.unparse(b) for b in node.bases]
                    methods_of[node.name] = (
                        f"{path.relative_to(ROOT)}:{node.name}",
                        {
                            f.name
                            for f in node.body
                            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                        },
                    )

    def is_call(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in seen:
            return False
        return any(
            b in ("pj.Call", "pjsua2.Call") or is_call(b.rsplit(".", 1)[-1], seen | {name})
            for b in bases_of.get(name, [])
        )

    for name, (where, methods) in methods_of.items():
        if is_call(name):
            found[where] = methods
    return found


def test_the_patch_names_the_callbacks_it_takes_the_director_from() -> None:
    names = undirected()
    assert {"onCallTsxState", "onStreamCreated", "onStreamDestroyed"} <= names
    # the ones relais relies on keep theirs
    assert not names & {"onCallState", "onCallMediaState", "onDtmfDigit", "onCallRedirected"}


def test_no_call_class_overrides_a_callback_without_director() -> None:
    classes = call_classes()
    assert any(w.endswith(":SwitchCall") for w in classes)  # the scan finds relais' calls
    assert any(w.endswith(":_Call") for w in classes)  # and the test phones'
    names = undirected()
    overriding = {where: sorted(m & names) for where, m in classes.items() if m & names}
    assert overriding == {}, (
        f"these overrides would never run with relais' pjproject build: {overriding}"
    )
