"""The WBCSD PACT data-exchange API under ``/pact``: product footprints translated from CoC
documents, for the buyers a member gives client credentials to."""
