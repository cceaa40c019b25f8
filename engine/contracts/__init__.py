"""The plugin contract: what every plugin and every part of the engine agree on.

Hooks (``hookspecs``), the destination, source, queue, state-store and rate-limiter
interfaces, the actions mappings produce and the outcomes delivery reports, plugin
functions, and the one tree of errors. Nothing here does I/O or imports another room;
``import mapwire`` re-exports the public part.
"""
