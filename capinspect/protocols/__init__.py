"""Per-protocol packages: a pure parser plus a stateful tracker each; nothing here knows verdicts."""
