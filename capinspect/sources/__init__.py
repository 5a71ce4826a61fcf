"""Capture sources: the only modules that read input bytes (files or a live interface)."""
