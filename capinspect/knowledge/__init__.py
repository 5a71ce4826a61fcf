"""capinspect.knowledge."""
