"""A plugin that fails on import: mapwire must report it and carry on (unless strict)."""

raise RuntimeError("mapwire-broken-plugin fails on import on purpose")
