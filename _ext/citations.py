"""Sphinx extension: author-year citations in round brackets, "(He et al., 2016)" and "He et al. (2016)",
several papers separated by semicolons.

sphinxcontrib-bibtex's `author_year` style puts both in square brackets. This registers the same style
with round ones as `author_year_round` (its documented plugin hook), which `_config.yml` selects with
`bibtex_reference_style`. `{cite:alp}` (no brackets, for use inside a parenthesis) is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sphinxcontrib.bibtex.plugin import register_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

STYLE_NAME = "author_year_round"


def _round() -> BracketStyle:
    # several papers in one citation: "(Olah et al., 2017; Yosinski et al., 2015)"
    return BracketStyle(left="(", right=")", sep="; ")


@dataclass
class RoundAuthorYearReferenceStyle(AuthorYearReferenceStyle):
    """The author-year style with ( ) around parenthetical citations and textual citations' years."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round)
    bracket_textual: BracketStyle = field(default_factory=_round)
    bracket_author: BracketStyle = field(default_factory=_round)
    bracket_label: BracketStyle = field(default_factory=_round)
    bracket_year: BracketStyle = field(default_factory=_round)


def setup(app):
    # Looked up by sphinxcontrib-bibtex at builder-inited, after every extension's setup has run.
    register_plugin("sphinxcontrib.bibtex.style.referencing", STYLE_NAME, RoundAuthorYearReferenceStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
