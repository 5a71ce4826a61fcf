"""Per-protocol packages: a pure parser plus a stateful tracker each; no verdicts here."""
