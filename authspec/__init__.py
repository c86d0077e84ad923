"""authspec: executable state-machine specs of written policy, and conformance tests against them."""

__version__ = "0.1.0"
