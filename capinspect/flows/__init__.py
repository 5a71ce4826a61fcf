"""capinspect.flows."""
