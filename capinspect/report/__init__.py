"""capinspect.report."""
