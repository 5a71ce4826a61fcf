"""Tests of the command line (capinspect/cli/), one module per command module."""
