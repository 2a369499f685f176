"""The EPCIS 2.0 repository, split by use case: ``validation`` (GS1 JSON Schema or
structural checks), ``capture`` (storing events), ``jobs`` (the capture queue),
``worker`` (the processes and threads that drain it), ``query`` (reading), and
``problems`` (RFC 7807 answers)."""
