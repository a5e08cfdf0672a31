"""Call events from Asterisk: the manager client, and what each call turned out to be."""
