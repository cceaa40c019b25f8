"""JSON Schema validation fast enough for every item on the delivery path.

``SchemaValidator(schema)`` compiles the schema twice: to generated Python code
(fastjsonschema) for the yes/no answer, which costs microseconds, and to a jsonschema
validator that is only asked for its detailed errors when the answer is no. Valid items,
the overwhelming majority, never pay for jsonschema's generic machinery. If the fast
compiler cannot handle a schema, jsonschema answers both questions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema


class SchemaValidator:
    def __init__(self, schema: Mapping[str, Any], *, check_formats: bool = False) -> None:
        import jsonschema  # imported when a validator is built, not with the package

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self._full: Any = cls(schema, format_checker=cls.FORMAT_CHECKER if check_formats else None)
        self._fast: Any = None
        try:
            import fastjsonschema

            fast_schema = {k: v for k, v in schema.items() if k != "$schema"}
            self._fast = fastjsonschema.compile(fast_schema, use_formats=check_formats)
            self._fast_error: type[Exception] = fastjsonschema.JsonSchemaException
        except Exception:  # an unsupported keyword: jsonschema answers alone
            self._fast = None

    def is_valid(self, instance: Any) -> bool:
        if self._fast is None:
            return bool(self._full.is_valid(instance))
        try:
            self._fast(instance)
        except self._fast_error:
            return False
        return True

    def iter_errors(self, instance: Any) -> Iterator[jsonschema.ValidationError]:
        """Every error, from jsonschema (slow: call it when ``is_valid`` said no)."""
        errors: Iterator[jsonschema.ValidationError] = self._full.iter_errors(instance)
        return errors
