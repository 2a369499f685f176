"""Use cases of the complaints mechanism, one module per flow.

- ``cases``: what each reader sees of a case, the lists, and the plumbing the flows share;
- ``filing``: the complainant's side: file, track, appeal, consent (through the token);
- ``handling``: the secretariat's side: assign, move on, resolve with sanctions, record
  the respondent's consent, download attachments.

Every function checks who may do it, writes through the models, appends a step to the
case's log and an entry to the event log, and flushes; the caller commits.

Who acts in the event log: the complainant's own actions (filing, appeal, consent) are
attributed to ``system:complainant`` even when a signed-in user filed, so the tamper-
evident log can never unmask an anonymous complainant. Payloads carry no names, e-mail
addresses or free text (notes may hold personal data; they stay in the case's steps).
"""
