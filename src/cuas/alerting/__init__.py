"""Zones and the rules that turn tracks into alerts."""
