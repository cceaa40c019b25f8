"""The core: spec loading, compilation, evaluation, hook specs, registry, CLI."""
