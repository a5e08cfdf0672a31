"""The agent's screen: a page per extension that shows who is calling, live, with their ITFlow card.

* ``ringing``: which calls ring or talk at which extension, from the AMI events.
* ``card``: the caller's card: the local directory at once, tickets and balance from ITFlow after.
* ``tokens``: the unguessable link of each extension's page (kept as hashes).
* ``live``: the pages' Server-Sent Events streams.
* ``web``: the HTTP routes ``/agent/<token>`` and ``/agent/<token>/events``; ``page/`` is the page.
* ``agent_screen``: all of the above built for the daemon, fed by the call journal's AMI events.
"""
