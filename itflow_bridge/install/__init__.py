"""``itflow-bridge install``: set the bridge up on a FreePBX or plain Asterisk PBX in one idempotent step.

``layout`` finds Asterisk's directories and user, ``settings`` writes the
bridge's config, ``edits`` changes Asterisk's own files by one line each,
``units`` is the daemon's systemd unit, ``plan`` turns all that into changes
(printed by ``--dry-run``, undone by ``--uninstall``), and ``installer`` runs it.
"""
