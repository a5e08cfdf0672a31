"""The desk-phone vendors whose remote-phonebook XML the bridge writes.

Apart from ``phonebook`` (which renders them) so the command line can offer the
choice without importing the renderer and its number library.
"""

FORMATS = ("yealink", "grandstream", "cisco", "snom", "fanvil")
