"""Outbound integrations: signed webhooks from a persistent queue, and Cursor-on-Target to
TAK over UDP, fed by the engine's output bus (which is itself the machine feed)."""
