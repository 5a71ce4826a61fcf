"""capinspect.protocols.http."""
