"""The mapping language: mapping files -> compiled plans -> actions, pure and vendor-free.

``yaml_loader`` reads YAML/JSON remembering positions; ``planner`` validates a spec and
builds its ``plan``; ``compiler`` turns a plan into one generated Python function (with
``jmespath_codegen``); ``interpreter`` is the reference semantics and ``explain``'s tracer;
the ``type_*`` modules check a mapping statically against its source and destination
schemas; ``cases`` runs ``*.test.yaml`` files. Imports only ``contracts``.
"""
