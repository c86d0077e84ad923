"""The conformance harness: checks a backend against the executable model of the specs.

``run.check(CheckOptions(...))`` is the entry point; docs/harness.md describes what a run
does and, at its end, which module holds what.
"""
