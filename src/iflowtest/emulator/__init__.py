"""The emulated CPI tenant: XSUAA, iFlow runtime and an S/4HANA cost-center backend on loopback."""

from iflowtest.emulator.server import Emulator

__all__ = ["Emulator"]
