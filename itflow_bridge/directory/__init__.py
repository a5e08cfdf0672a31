"""A local copy of ITFlow's phone numbers: sync, lookup, desk-phone phonebooks, HTTP.

One concept per module:

* ``store``: the sqlite file (one per ITFlow identity), atomically replaced by
  each sync; ``Directory.find(e164)`` uses the standard library only, and
  ``Directory.find_caller`` answers caller-ID lookups as ITFlow's own would.
* ``normalise``: ITFlow's digits + country-code column -> E.164.
* ``sync``: reads clients, contacts, locations and vendors through an adapter.
* ``formats``: the phone vendors a phonebook can be written for.
* ``phonebook``: remote-phonebook XML for Yealink, Grandstream, Cisco, snom, Fanvil.
* ``http_server``: ``/phonebook/<format>.xml`` and ``/cnam?number=`` (FreePBX
  CallerID Lookup / Superfecta HTTP source).
* ``service``: which directory a configuration uses, ``check``'s line on it,
  the phonebook provider and ``/cnam`` of the HTTP server.
* ``daemon``: what ``itflow-bridge serve`` runs beside its calls: the
  background re-sync and the HTTP server.
* ``commands``: ``itflow-bridge sync`` (which also writes the classic scripts'
  answer book, ``itflow_bridge.storage.answer_book``) and ``itflow-bridge phonebook``.

Nothing is imported here, so ``from itflow_bridge.storage.directory_file import
Directory`` stays cheap for a classic AGI script.
"""
