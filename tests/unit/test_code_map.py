"""The README's code map names only paths that exist, and every package folder is in it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "itflow_bridge"
CONTINUED = " " * 15  # a row that goes on from the line above
FILE = re.compile(r"(?<![\w/.-])([\w-]+(?:\.[\w]+)+|[\w-]+/)(?=[\s,()]|$)")


def code_map() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Code map\n"):]
    return section[section.index("```\n") + 4:section.index("\n```", section.index("```\n") + 4)]


def listed_paths() -> list:
    """(line, path) of every file or folder the map names, resolved against the folder its row is about."""
    found = []
    top = ""
    folder = ""
    for line in code_map().splitlines():
        head = None if line.startswith(CONTINUED) else re.match(r"( *)([\w.-]+/?)\s", line + " ")
        if head:
            indent, name = len(head.group(1)), head.group(2)
            if indent == 0:
                top = name if name.endswith("/") else ""
                folder = top
            elif name.endswith("/"):
                folder = top + name
            else:
                folder = top
        text = re.sub(r"\([^()]*\)|`[^`]*`", " ", line)  # descriptions and commands are not paths
        for match in FILE.finditer(text):
            name = match.group(1)
            if head and match.start() == len(head.group(1)) and name == head.group(2):
                found.append((line, folder if name.endswith("/") else top + name))  # the row's own folder or module
            else:
                found.append((line, folder + name))
    return found


def test_every_path_in_the_code_map_exists():
    paths = listed_paths()
    assert len(paths) > 60  # the map was read, not skipped
    missing = [path for _line, path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_every_package_folder_and_module_is_in_the_code_map():
    named = {path.rstrip("/") for _line, path in listed_paths()}
    modules = {str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}
    folders = {str(path.parent.relative_to(ROOT)) for path in PACKAGE.rglob("__init__.py")}
    unnamed = sorted(path for path in modules | folders
                     if path not in named and not path.endswith(("__init__.py", "__main__.py"))
                     and path != "itflow_bridge")
    assert unnamed == []
