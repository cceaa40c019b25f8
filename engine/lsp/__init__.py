"""``mapwire lsp``: a language server for mapping files and their test cases.

The analysis (``diagnose``, ``hover``, ``completion``) turns a file's unsaved text into
plain data and needs no language-server library; only ``server`` wires it to pygls.
"""
