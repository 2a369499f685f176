"""Assurance: certification scopes, self-assessments, audits, findings, corrective actions,
decisions, certificates and claims."""
