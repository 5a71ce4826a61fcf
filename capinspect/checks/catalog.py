"""docs/checks.md, generated from the check specs so the docs and the reports never disagree.

Regenerate with ``python -m capinspect.checks.catalog > docs/checks.md``; a test fails when the
committed file differs.
"""

from __future__ import annotations

from capinspect.checks import ALL_SPECS
from capinspect.checks.base import CheckSpec

HEADER = """# Checks

Every finding capinspect reports has one of these stable IDs. The severity is the default; a
few checks lower it where the evidence is weaker (noted in the text). IDs never change meaning;
a retired ID is never reused. `capinspect explain <id>` prints the same text.

Verdict per phone: **fail** if any fail finding, **warn** if any warn finding, **inconclusive**
when nothing is wrong but the capture does not reach the check-in or ends before an offered file
could be fetched (the verdict says which stage is missing and what capture to take), **pass**
otherwise.

Sources are cited by author and title, so you can find and read them. Most rules come from
Rui Silva, "Troubleshooting OCS 2007 R2 Device Update Service for Communicator Phone Edition"
(2009), called *the Device Update troubleshooting article* in the texts: its update flow (steps
1-6), its troubleshooting process (steps 1-12), its audit and IIS log examples and its readers'
comments, cited by the reader's name where the comment gives one. Microsoft's documents are
cited by their titles (most are archived under learn.microsoft.com "previous versions");
*inference* marks rules reasoned from the sources, not stated by them; *expectations* marks
checks that compare with the user's `--expect` file.

| ID | Severity | Title |
|---|---|---|
"""


def _section(spec: CheckSpec) -> str:
    return (
        f"## `{spec.id}`\n\n"
        f"**{spec.severity}** — {spec.title}\n\n"
        f"{spec.explanation}\n\n"
        f"**What to do:** {spec.remediation}\n\n"
        f"**Source:** {spec.source}\n"
    )


def render_catalog() -> str:
    rows = "".join(
        f"| [`{s.id}`](#{s.id.replace('.', '')}) | {s.severity} | {s.title} |\n" for s in ALL_SPECS
    )
    return HEADER + rows + "\n" + "\n".join(_section(s) for s in ALL_SPECS)


if __name__ == "__main__":  # pragma: no cover
    print(render_catalog(), end="")
