"""Tests of the shared step after the engine (capinspect/run/)."""
