"""A hook of examples/http/reference-bank.yaml: what its tables cannot say.

The reference service's back office tells the U-key's state as three fields (a brand, a
driver installed, a certificate on the key); the spec's ``ukey`` machine has one state for
each combination. A mapping table reads one field, so this function reads the three.
An observation hook is called as ``hook(body) -> str`` with the observation's JSON body.
"""

from __future__ import annotations

from typing import Any


def ukey_state(body: Any) -> str:
    """The ``ukey`` machine's state from a customer record of the back office."""
    if body.get("ukey_brand") is None:
        return "none"
    driver, certificate = body.get("ukey_driver_installed"), body.get("ukey_certificate")
    if driver and certificate:
        return "ready"
    if driver:
        return "driver_installed"
    return "certificate_only" if certificate else "issued"
