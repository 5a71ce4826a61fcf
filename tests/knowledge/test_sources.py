"""The cited documents: named by author and title, and cited by those names in the checks."""

from __future__ import annotations

import re

from capinspect.checks import ALL_CHECKS
from capinspect.knowledge import sources

TITLES = {
    name: value
    for name, value in vars(sources).items()
    if name.isupper() and isinstance(value, str) and name != "THE_ARTICLE"
}


def test_every_source_names_an_author_and_a_quoted_title() -> None:
    assert "ARTICLE" in TITLES and len(TITLES) > 10
    for name, title in TITLES.items():
        # 'Author, "Title" (…)' or the cmdlet help forms; never a bare URL or a file name.
        assert re.match(r"^[A-Z][\w .'-]+, ", title), name
        assert "http" not in title and "protocol.md" not in title and "seed" not in title, name


def test_the_article_is_rui_silvas() -> None:
    assert sources.ARTICLE.startswith("Rui Silva, ")
    assert "Device Update Service" in sources.ARTICLE
    assert sources.THE_ARTICLE == "the Device Update troubleshooting article"


def test_checks_cite_the_titles_word_for_word() -> None:
    cited = {check.spec.source for check in ALL_CHECKS}
    assert any(sources.ARTICLE in citation for citation in cited)
    titles = set(TITLES.values())
    for citation in cited:
        named = [t for t in titles if t in citation]
        if any(word in citation for word in ("Silva", "Schertz", "Microsoft,")):
            assert named, f"a citation retypes a title instead of using sources.py: {citation}"
