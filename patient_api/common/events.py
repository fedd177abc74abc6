"""Published events: a feature says what happened, the features that care subscribe, neither imports the other.

Subscribers run synchronously, in subscription order, inside the publisher's transaction: what they write
(outbox rows, status changes) commits or rolls back with the fact itself, and an exception in one fails the
publisher as a direct call would. Subscriptions are made when the subscribing module is imported; create_app
imports every subscriber, so the web app, the worker and the CLI all have them. Names and data: docs/events.md.
"""
from collections import defaultdict

_SUBSCRIBERS = defaultdict(dict)  # event → {"module.function": handler}, in subscription order


def subscribe(event):
    """Decorator: call the function with the event's data (keyword arguments) whenever `event` is published."""
    def register(handler):
        # Keyed by name, so importing a module again replaces its handler instead of adding a second one.
        _SUBSCRIBERS[event][f"{handler.__module__}.{handler.__qualname__}"] = handler
        return handler
    return register


def publish(event, **data):
    """Tell every subscriber of `event`, in order, in the caller's transaction."""
    for handler in list(_SUBSCRIBERS[event].values()):
        handler(**data)


def subscribers(event):
    """Names of the functions subscribed to `event`, in the order they run."""
    return list(_SUBSCRIBERS[event])
