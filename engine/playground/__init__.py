"""``mapwire playground``: a local web page to write a mapping and watch what it does.

The page (``static/``) talks to a small JSON API (``app``); each answer is computed by the
same code the other commands use: the compiler and its typed checks (diagnostics), the
interpreter and its tracer (actions, skips, ``explain``), and the destination plugin's own
``prepare`` and ``build_requests`` (the vendor requests, shown with secrets masked and never
sent). Nothing here knows a vendor: everything vendor-specific comes from the registry.
"""
