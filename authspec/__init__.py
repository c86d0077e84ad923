"""authspec: executable state-machine specs of written policy, and conformance tests."""

__version__ = "0.1.0"
