"""Calls written back to ITFlow: call events, the tickets they make, the outbox that delivers them."""
