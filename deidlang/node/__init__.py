"""A de-identifying DICOM gateway: receive (`scp`), de-identify, store or forward through a persistent
outbox (`forwarder`) over DIMSE or DICOMweb (`delivery`), with hardened listening (`listener`) and
paths made only of valid UIDs (`paths`). docs/gateway.md describes how to run it."""

from .destinations import Destination, WebDestination, parse_destination
from .scp import Node

__all__ = ["Destination", "Node", "WebDestination", "parse_destination"]
