"""Benchmark for capinspect: a synthetic mirror-port capture generator and a timing runner.

Not a CI test: the numbers depend on the machine. ``python -m bench.run`` measures capinspect
against tshark and a raw pcap read floor, and checks that the report still finds every phone the
generator planted (see docs/performance.md).
"""
