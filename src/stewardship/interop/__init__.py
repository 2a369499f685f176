"""Interoperability at the edge: the EPCIS 2.0 repository under ``/epcis`` (capture,
capture jobs and workers, the event query) and the chain-of-custody profile that maps
EPCIS events onto the ledger (``profile``). No scheme rules live here."""
