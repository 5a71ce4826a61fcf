"""capinspect.protocols.dns."""
