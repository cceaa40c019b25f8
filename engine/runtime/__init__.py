"""A running mapwire: config, plugin registry, intake pipeline, delivery.

``config`` reads the config file; ``registry`` loads the plugins; ``pipeline`` maps
documents and queues their actions (dedup/state on the way); ``delivery`` claims queued
actions and sends them through destination plugins; ``process`` holds all of it for one
process. Imports ``language`` and ``contracts``; the server and the CLI sit above.
"""
