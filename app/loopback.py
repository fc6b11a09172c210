"""Loopback by default: provex's servers (the app, serve-lineage) bind to
127.0.0.1 unless told otherwise, and say so loudly when told otherwise."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
