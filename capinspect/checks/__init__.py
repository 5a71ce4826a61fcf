"""capinspect.checks."""
