"""Calls back into ITFlow: what happened on the PBX, and the writes it makes in ITFlow.

* ``ami_protocol``, ``ami``: Asterisk's Manager Interface (wire format; a small threaded client).
* ``events``: manager events grouped into calls by ``Linkedid``.
* ``classify``: an ended call -> ``ClassifiedCall`` (answered, missed, voicemail, ...).
* ``cdr``: Asterisk's own CDR file (cdr_custom) read back, a call from its records, for calls that
  ended while the bridge was away.
* ``tickets``: a known client's call -> tickets and replies (``CallForTickets``).
* ``outbox``: those writes kept before they are sent, delivered in order, checked before resent.
* ``voicemail``: the message a call left in Asterisk's voicemail spool, and its audio file.
* ``voicemail_links``: expiring links to those messages for tickets, served by the daemon's HTTP server.
"""
