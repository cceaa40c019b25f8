"""JSON Schema validation fast enough for every item on the delivery path.

``SchemaValidator(schema)`` compiles the schema three times: to one plain function that
answers "certainly valid" for the keywords it knows (``schema_predicate``, a fraction of a
microsecond for a typical payload), to generated code (fastjsonschema) for the yes/no
answer when that function is not sure, and to a jsonschema validator that is only asked
for its detailed errors when the answer is no. Valid items, the overwhelming majority,
never pay for a general validator's machinery. If fastjsonschema cannot handle a schema,
jsonschema answers in its place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .schema_predicate import compile_predicate

if TYPE_CHECKING:
    import jsonschema


class SchemaValidator:
    def __init__(self, schema: Mapping[str, Any], *, check_formats: bool = False) -> None:
        import jsonschema  # imported when a validator is built, not with the package

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        checker = cls.FORMAT_CHECKER if check_formats else None
        self._full: Any = cls(schema, format_checker=checker)
        self.certainly_valid = compile_predicate(
            schema, None if checker is None else checker.conforms
        )
        """``certainly_valid(instance)``: ``True`` only when valid; ``False`` when invalid or
        unsure (``is_valid`` then asks the slower validators)."""
        self._fast: Any = None
        try:
            import fastjsonschema

            fast_schema = {k: v for k, v in schema.items() if k != "$schema"}
            self._fast = fastjsonschema.compile(fast_schema, use_formats=check_formats)
            self._fast_error: type[Exception] = fastjsonschema.JsonSchemaException
        except Exception:  # an unsupported keyword: jsonschema answers alone
            self._fast = None

    def is_valid(self, instance: Any) -> bool:
        if self.certainly_valid(instance):
            return True
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
