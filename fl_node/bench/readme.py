"""Write a benchmark's Markdown table into the README between its markers."""

from __future__ import annotations

from pathlib import Path


def update_readme(readme: Path, key: str, markdown: str) -> bool:
    """Replace the text between ``<!-- bench:key -->`` and ``<!-- /bench:key -->``; False if the
    README has no such markers (the results file is still written)."""
    if not readme.is_file():
        return False
    text = readme.read_text()
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown.strip()}\n{end}{tail}")
    return True
