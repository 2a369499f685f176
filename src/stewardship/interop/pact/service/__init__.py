"""Use cases of the PACT API, by flow: client credentials, footprints, events."""
