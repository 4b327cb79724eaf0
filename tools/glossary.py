"""The glossary (chapters/00_preface/03_glossary.md) and the chapters' use of its terms.

`python -m tools.glossary` lists what a chapter's author still has to do: terms defined in bold but not in the
glossary or not linked to it, references to entries that do not exist, language twins that disagree, and
rejected Chinese variants. It exits with 1 when anything is listed; tests/test_glossary.py runs the same checks.

The rules, stated once:

- The glossary page has one section per chapter (a bilingual heading), each with a ``{glossary}`` directive
  inside a ``lang-zh`` container and one inside a ``lang-en`` container. A Chinese entry is named
  ``中文（English）``; the English part is exactly the name of its English entry, so the pair is explicit.
  Both lists hold the same pairs in the same order, sorted by the English name. A Chinese definition may end
  with ``不用“X”。``: X is a rejected variant that no chapter may use.
- A chapter defines a term by linking it: ``{term}`感受野 <感受野（receptive field）>``` in the lang-zh text
  and ``{term}`receptive field``` in its lang-en twin. Term links are styled bold, so a definition reads as
  one (``_static/glossary.css``).
- Bold that still looks like a definition is reported: in lang-zh text, ``**X**（...）`` where the parenthesis
  starts with a Latin letter (the book's way of introducing a term: Chinese, then the English in parentheses);
  in either language, a bold span whose text is a glossary name. Other bold is emphasis (**证实**,
  **not**, **Question 1.**) and is left alone; `python -m tools.glossary --bold` lists it for a reader
  to judge.
- Twins agree: a lang-zh cell and the lang-en cell after it link the same glossary pairs.
- One Chinese word per term: where lang-zh text introduces a term as ``中文（English…）`` with a glossary
  English name first in the parenthesis, the Chinese before it contains the glossary's Chinese term (or ends
  with a shortening of it: 不变 for 不变性). So 快捷连接（shortcut） is caught even without a rejected list.
  Terms whose Chinese name keeps a Latin word (Adam 优化器) are not compared.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
GLOSSARY = CHAPTERS / "00_preface" / "03_glossary.md"
LANG_TAGS = ("lang-zh", "lang-en")

ROLE = re.compile(r"\{term\}`([^`]*)`")
EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.DOTALL)
BOLD = re.compile(r"\*\*(?!\s)([^*\n]+?)\*\*")
BOLD_DEFINITION = re.compile(r"\*\*(?!\s)([^*\n]+?)\*\*（([^）\n]*)）")
LATIN = re.compile(r"[A-Za-z]")
ZH_NAME = re.compile(r"^(.+?)（([^（）]+)）$")
REJECTED = re.compile(r"不用“([^”]+)”")
CONTAINER = re.compile(r"^:::\{container\} (lang-zh|lang-en)\n(.*?)^:::$", re.MULTILINE | re.DOTALL)
GLOSSARY_BLOCK = re.compile(r"^```\{glossary\}\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
INTRODUCED = re.compile(r"([^（）`$*，。；：、“”\n]{1,16})（([A-Za-z][^）\n]*)）")
CJK = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Entry:
    zh: str  # the Chinese entry's full name, "感受野（receptive field）"
    en: str  # the English entry's name, "receptive field"
    section: str
    rejected: tuple[str, ...] = ()

    @property
    def zh_term(self) -> str:
        """The Chinese term alone, "感受野"."""
        return ZH_NAME.match(self.zh).group(1)


@dataclass
class Glossary:
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)  # the page's own faults

    def by_zh(self) -> dict[str, Entry]:
        return {e.zh.lower(): e for e in self.entries}

    def by_en(self) -> dict[str, Entry]:
        return {e.en.lower(): e for e in self.entries}


def _glossary_items(block: str) -> list[tuple[str, str]]:
    """(term, definition) pairs of one ``{glossary}`` body: unindented term lines, indented definitions."""
    items: list[tuple[str, str]] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            if not items:
                raise ValueError(f"a glossary definition before any term: {line!r}")
            term, definition = items[-1]
            items[-1] = (term, (definition + " " + line.strip()).strip())
        else:
            items.append((line.strip(), ""))
    return items


def load_glossary(path: Path = GLOSSARY) -> Glossary:
    """Parse the glossary page into entries; `Glossary.problems` lists what is wrong with the page itself."""
    text = path.read_text()
    entries: list[Entry] = []
    problems: list[str] = []
    headings = list(SECTION.finditer(text))
    if not headings:
        problems.append(f"{path.name}: no '## 中文 · English' section")
    for i, heading in enumerate(headings):
        section = heading.group(1).strip()
        body = text[heading.end(): headings[i + 1].start() if i + 1 < len(headings) else len(text)]
        lists = {}
        for lang, content in CONTAINER.findall(body):
            blocks = GLOSSARY_BLOCK.findall(content)
            if len(blocks) != 1:
                problems.append(f"section {section!r}: the {lang} container must hold exactly one glossary")
                continue
            lists[lang] = _glossary_items(blocks[0])
        if set(lists) != set(LANG_TAGS):
            problems.append(f"section {section!r}: needs one lang-zh and one lang-en glossary")
            continue
        zh_items, en_items = lists["lang-zh"], lists["lang-en"]
        for term, definition in zh_items + en_items:
            if not definition:
                problems.append(f"section {section!r}: {term!r} has no definition")
        pairs = []
        for term, definition in zh_items:
            m = ZH_NAME.match(term)
            if not m:
                problems.append(f"section {section!r}: Chinese entry {term!r} must read '中文（English）'")
                continue
            pairs.append((term, m.group(2), tuple(REJECTED.findall(definition))))
        en_names = [term for term, _ in en_items]
        if [en for _, en, _ in pairs] != en_names:
            problems.append(f"section {section!r}: the Chinese entries' English names {[en for _, en, _ in pairs]} "
                            f"and the English entries {en_names} must be the same, in the same order")
        if en_names != sorted(en_names, key=str.lower):
            problems.append(f"section {section!r}: entries must be sorted by their English name")
        entries += [Entry(zh, en, section, rejected) for zh, en, rejected in pairs]
    for attr in ("zh", "en"):
        names = [getattr(e, attr).lower() for e in entries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"entries defined twice: {dupes}")
    return Glossary(entries, problems)


# ---------------------------------------------------------------- the chapters' prose


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass(frozen=True)
class Prose:
    """One language's text of one prose unit: a lang-tagged notebook cell or a lang container of a page."""
    page: Path
    index: int  # markdown-cell index in a notebook, container index on a page
    lang: str  # "lang-zh" or "lang-en"
    text: str

    def where(self) -> str:
        unit = "cell" if self.page.suffix == ".ipynb" else "block"
        return f"{_rel(self.page)} {unit} {self.index} ({self.lang})"


def chapter_pages() -> list[Path]:
    """Every notebook and Markdown page of the book except the glossary itself."""
    pages = [p for p in CHAPTERS.rglob("*") if p.suffix in (".md", ".ipynb") and ".ipynb_checkpoints" not in p.parts]
    return sorted(p for p in pages if p != GLOSSARY)


def twins(page: Path) -> list[tuple[Prose, Prose]]:
    """(lang-zh, lang-en) prose pairs of a page, in order (tests/test_book.py checks they alternate)."""
    units: list[Prose] = []
    if page.suffix == ".ipynb":
        nb = nbformat.read(page, as_version=4)
        for i, cell in enumerate(nb.cells):
            langs = [t for t in cell.metadata.get("tags", []) if t in LANG_TAGS]
            if cell.cell_type == "markdown" and len(langs) == 1:
                units.append(Prose(page, i, langs[0], cell.source))
    else:
        units = [Prose(page, i, lang, body) for i, (lang, body) in enumerate(CONTAINER.findall(page.read_text()))]
    pairs = []
    for zh, en in zip(units, units[1:]):
        if zh.lang == "lang-zh" and en.lang == "lang-en":
            pairs.append((zh, en))
    return pairs


def references(text: str) -> list[tuple[str, str]]:
    """(shown text, target) of every {term} role in `text`."""
    out = []
    for inner in ROLE.findall(text):
        m = EXPLICIT.match(inner.strip())
        out.append((m.group(1), m.group(2).strip()) if m else (inner.strip(), inner.strip()))
    return out


def bold_definitions(text: str) -> list[str]:
    """Chinese terms introduced in bold and not linked: **感受野**（receptive field）."""
    return [term for term, paren in BOLD_DEFINITION.findall(text) if LATIN.match(paren.lstrip())]


def shown_text(text: str) -> str:
    """`text` with every {term} role replaced by the words it shows."""
    return ROLE.sub(lambda m: references(m.group(0))[0][0], text)


def translation_mismatches(text: str, en_names: dict[str, Entry]) -> list[str]:
    """Chinese terms introduced with a glossary entry's English name but a different Chinese word."""
    out = []
    for before, paren in INTRODUCED.findall(shown_text(text)):
        entry = en_names.get(re.split(r"[，,；;]", paren)[0].strip().lower())
        if entry is None or LATIN.search(entry.zh_term):  # "Adam 优化器", "死亡 ReLU": no pure Chinese word to compare
            continue
        core, said = "".join(CJK.findall(entry.zh_term)), "".join(CJK.findall(before))
        if not said or core in said or said[-2:] in core:
            continue
        out.append(f"{before.strip()}（{paren}）: the glossary's Chinese term is {entry.zh_term!r}")
    return out


def check(glossary: Glossary | None = None, pages: list[Path] | None = None) -> dict[str, list[str]]:
    """Every problem, by kind. Empty lists everywhere mean the chapters and the glossary agree."""
    glossary = glossary or load_glossary()
    pages = chapter_pages() if pages is None else pages
    zh_names, en_names = glossary.by_zh(), glossary.by_en()
    zh_terms = {e.zh_term.lower() for e in glossary.entries}
    problems: dict[str, list[str]] = {"glossary page": list(glossary.problems), "not in the glossary": [],
                                      "unknown term reference": [], "bold term not linked": [],
                                      "twins disagree": [], "rejected variant": [], "another Chinese word": []}
    rejected = {v: e for e in glossary.entries for v in e.rejected}
    for page in pages:
        text = page.read_text()
        for variant, entry in rejected.items():
            if variant in text:
                problems["rejected variant"].append(f"{_rel(page)} uses {variant!r}: write {entry.zh_term!r}")
        for zh, en in twins(page):
            linked = {}
            for prose, names in ((zh, zh_names), (en, en_names)):
                found = set()
                for shown, target in references(prose.text):
                    entry = names.get(target.lower())
                    if entry is None:
                        problems["unknown term reference"].append(f"{prose.where()}: {{term}}`{shown} <{target}>`")
                    else:
                        found.add(entry)
                linked[prose.lang] = found
                # bold that names a glossary entry reads as a definition: link it instead
                for span in BOLD.findall(ROLE.sub("", prose.text)):
                    name = span.strip().lower()
                    hit = name in (zh_terms | set(zh_names) if prose.lang == "lang-zh" else set(en_names))
                    if hit:
                        problems["bold term not linked"].append(f"{prose.where()}: **{span}** is a glossary term")
            for found in translation_mismatches(zh.text, en_names):
                problems["another Chinese word"].append(f"{zh.where()}: {found}")
            for term in bold_definitions(ROLE.sub("", zh.text)):
                paren = re.search(re.escape(f"**{term}**") + r"（([^）]*)）", zh.text).group(1)
                if term.lower() in zh_terms:
                    continue  # already reported above as an unlinked glossary term
                problems["not in the glossary"].append(f"{zh.where()}: **{term}**（{paren}）")
            for entry in linked["lang-zh"] - linked["lang-en"]:
                problems["twins disagree"].append(f"{zh.where()} links {entry.zh!r}; its English twin does not link {entry.en!r}")
            for entry in linked["lang-en"] - linked["lang-zh"]:
                problems["twins disagree"].append(f"{en.where()} links {entry.en!r}; its Chinese twin does not link {entry.zh!r}")
    return problems


def emphasis() -> list[str]:
    """Every bold span left in the chapters' prose (for a reader to confirm that it is emphasis)."""
    out = []
    for page in chapter_pages():
        for pair in twins(page):
            for prose in pair:
                spans = BOLD.findall(ROLE.sub("", prose.text))
                if spans:
                    out.append(f"{prose.where()}: " + " | ".join(spans))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--bold" in argv:
        print("\n".join(emphasis()))
        return 0
    problems = check()
    total = sum(len(v) for v in problems.values())
    for kind, items in problems.items():
        if items:
            print(f"## {kind} ({len(items)})")
            print("\n".join(f"  {item}" for item in items))
    if problems["not in the glossary"]:
        print("\nAdd each to chapters/00_preface/03_glossary.md, in its chapter's section, sorted by the English name:\n"
              "  lang-zh:  中文（English）\\n    一句中文定义。\n  lang-en:  English\\n    One English sentence.\n"
              "then write it in the chapter as {term}`中文 <中文（English）>`（...） and {term}`English` in the twin.")
    print(f"{total} problem(s)" if total else "glossary and chapters agree")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
