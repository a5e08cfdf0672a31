"""The classic AGI path: Asterisk starts a new Python process for every call.

- ``fastpath``: the scripts' entry point; answers a caller-ID call from the
  answer book or the replay store (``storage``) with the standard library
  only, else hands over to
- ``fullpath``: the whole bridge for one call, then an immediate exit (and a
  detached refresher when ITFlow overran the budget);
- ``prepare``: writes the answer book after a sync;
- ``wrapper``: the text of the scripts installed into agi-bin.

Nothing is imported here: the fast path pays for every module it loads.
"""
