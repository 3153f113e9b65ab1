"""The iOS app's Swift sources: what can be checked without a Mac.

SwiftUI, UIKit and Core ML do not exist on Linux, so the app target (ios_demo/App) is compiled
only by Xcode. Here every Swift file of ios_demo (app, core, tests, manifests) must parse
(tree-sitter-swift) and pass `swift format lint --strict` with ios_demo/.swift-format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ios_toolchain import PACKAGE, REPO, Swift, missing

IOS = REPO / "ios_demo"
LINTED = [IOS / "App" / "Sources", PACKAGE / "Sources", PACKAGE / "Tests", PACKAGE / "Package.swift"]


def swift_files() -> list[Path]:
    files = [p for p in IOS.rglob("*.swift") if ".build" not in p.parts and ".swiftpm" not in p.parts]
    assert len(files) > 15, files
    return sorted(files)


def error_nodes(node, found: list) -> list:
    if node.is_error or node.is_missing:
        found.append(node)
    for child in node.children:
        error_nodes(child, found)
    return found


def test_every_swift_file_parses():
    try:
        import tree_sitter
        import tree_sitter_swift
    except ImportError:
        missing("tree-sitter-swift is not installed (it is in requirements.txt: make builds the venv)")
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    assert parser.parse(b"let x = (").root_node.has_error          # the check can fail
    bad = []
    for path in swift_files():
        tree = parser.parse(path.read_bytes())
        if tree.root_node.has_error:
            where = [f"{n.start_point[0] + 1}:{n.start_point[1] + 1}" for n in error_nodes(tree.root_node, [])][:5]
            bad.append(f"{path.relative_to(REPO)} at {', '.join(where)}")
    assert not bad, "tree-sitter-swift cannot parse:\n" + "\n".join(bad)


def test_swift_format_lint(swift: Swift):
    r = swift.run(["format", "lint", "--strict", "--configuration", str(IOS / ".swift-format"), "-r",
                   *map(str, LINTED)], IOS, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", ["project.yml"])
def test_xcodegen_spec_names_what_exists(name):
    """project.yml (XcodeGen) points at folders that exist, and the models folder is a folder reference."""
    import yaml

    spec = yaml.safe_load((IOS / name).read_text())
    assert (IOS / spec["packages"]["Pix2MobileCore"]["path"] / "Package.swift").is_file()
    sources = spec["targets"]["Pix2Mobile"]["sources"]
    for s in sources:
        assert (IOS / s["path"]).is_dir(), s
    models = next(s for s in sources if s["path"].endswith("models"))
    assert models["type"] == "folder" and models["buildPhase"] == "resources"
    from pix2mobile.pipelines.bundle import PLATFORMS

    assert models["path"] == PLATFORMS["ios"].assets            # where `pix2mobile bundle --ios` writes
