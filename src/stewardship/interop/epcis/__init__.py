"""The EPCIS 2.0 repository, split by use case: ``validation`` (GS1 JSON Schema or
structural checks), ``rules`` (the event hash id, pure), ``capture`` (storing events),
``jobs`` (the capture queue), ``worker`` (the processes and threads that drain it),
``query`` (reading), ``resources`` (the REST resources beside the event query), and
``problems`` (RFC 7807 answers, version negotiation)."""
