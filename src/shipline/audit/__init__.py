"""The audit chain: who changed what, when, provably in order."""

from shipline.audit.chain import ChainReport, list_events, verify_chain

__all__ = ["ChainReport", "list_events", "verify_chain"]
