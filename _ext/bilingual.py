"""Sphinx extension: show each prose cell of a notebook in one language at a time.

Markdown cells tagged ``lang-zh`` or ``lang-en`` are wrapped, before MyST-NB parses the notebook,
in ``<div class="lang-zh">`` ... ``</div>`` (blank lines inside, so the Markdown between renders).
``_static/bilingual.js`` then hides the language the reader did not choose. myst-nb does not carry
cell tags into the HTML, which is why this is done at ``source-read`` on the notebook's JSON.
Headings stay in untagged cells ("## 卷积 · Convolution"), outside the wrappers.
"""

from __future__ import annotations

import json

LANG_TAGS = ("lang-zh", "lang-en")


def wrap_language_cells(notebook_json: str) -> str:
    """Return the notebook JSON with every lang-tagged markdown cell wrapped in a language div."""
    nb = json.loads(notebook_json)
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        langs = [t for t in tags if t in LANG_TAGS]
        if not langs:
            continue
        if len(langs) > 1:
            raise ValueError(f"a markdown cell carries both language tags: {langs}")
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cell["source"] = f'<div class="{langs[0]}" lang="{langs[0][5:]}">\n\n{source.strip()}\n\n</div>\n'
        changed = True
    return json.dumps(nb, ensure_ascii=False) if changed else notebook_json


def _on_source_read(app, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = wrap_language_cells(source[0])


def setup(app):
    # _static/bilingual.js and .css are picked up by Jupyter Book from the book's _static folder.
    app.connect("source-read", _on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
