"""One router per resource, included by cuas.api.app."""
