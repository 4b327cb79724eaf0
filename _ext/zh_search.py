"""Sphinx extension: teach the Chinese search index the book's own terms.

With ``html_search_language: zh`` Sphinx cuts Chinese text into words with jieba (without jieba it
indexes no Chinese at all) and still stems English words. jieba's general dictionary does not know
many deep-learning terms: it cuts 感受野 into 感受 / 野, so a search for 感受野 finds nothing. Before
the index is written, this adds to jieba every short Chinese phrase the book itself marks as a term:
the Chinese half of each heading ("感受野 · Receptive fields"), bold text, and glossary terms.
"""

from __future__ import annotations

import re

from docutils import nodes

CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,8}")


def book_terms(doctree: nodes.Node) -> set[str]:
    """Runs of 2-8 Chinese characters in the headings, bold text and glossary terms of one page."""
    terms: set[str] = set()
    for node in doctree.findall(lambda n: isinstance(n, (nodes.title, nodes.strong, nodes.term))):
        terms.update(CJK_RUN.findall(node.astext()))
    return terms


def _add_terms(app, env) -> None:
    if app.builder.format != "html" or app.config.html_search_language != "zh":
        return
    import jieba

    jieba.setLogLevel(30)  # no "Building prefix dict ..." chatter in the build log
    for docname in sorted(env.found_docs):
        for term in sorted(book_terms(env.get_doctree(docname))):
            jieba.add_word(term)


def setup(app):
    app.connect("env-updated", _add_terms)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
