"""JSON Schema validation fast enough for every item on the delivery path.

``SchemaValidator(schema)`` compiles the schema to one plain function that answers
"certainly valid" for the keywords it knows (``schema_predicate``, a fraction of a
microsecond for a typical payload). Only when that function is not sure does it build,
once, the two slower validators: generated code (fastjsonschema) for the yes/no answer,
and a jsonschema validator asked for its detailed errors when the answer is no. Valid
items, the overwhelming majority, never pay for a general validator's machinery, and a
process that only ever sees them never builds one (a command starts sooner). If
fastjsonschema cannot handle a schema, jsonschema answers in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .schema_predicate import compile_predicate

if TYPE_CHECKING:
    import jsonschema


class SchemaValidator:
    def __init__(self, schema: Mapping[str, Any], *, check_formats: bool = False) -> None:
        self._schema = schema
        self._check_formats = check_formats
        self._full: Any = None
        self._fast: Callable[[Any], Any] | None = None
        self._fast_error: type[Exception] = Exception
        self._format_conforms: Callable[[Any, str], bool] | None = None
        self._slow_built = False
        self.certainly_valid = compile_predicate(schema, self._conforms if check_formats else None)
        """``certainly_valid(instance)``: ``True`` only when valid; ``False`` when invalid or
        unsure (``is_valid`` then asks the slower validators)."""

    def _conforms(self, instance: Any, fmt: str) -> bool:
        """The format checker's answer: the full validator's class's, taken on first use
        (the validator itself is built only when a payload needs its messages)."""
        conforms = self._format_conforms
        if conforms is None:
            conforms = self._format_conforms = self._validator_class().FORMAT_CHECKER.conforms
        return bool(conforms(instance, fmt))

    def _validator_class(self) -> Any:
        import jsonschema  # imported when first needed, not with the package

        return jsonschema.validators.validator_for(
            self._schema, default=jsonschema.Draft202012Validator
        )

    def _full_validator(self) -> Any:
        if self._full is None:
            cls = self._validator_class()
            checker = cls.FORMAT_CHECKER if self._check_formats else None
            self._full = cls(self._schema, format_checker=checker)
        return self._full

    def _build_slow(self) -> None:
        self._full_validator()
        try:
            import fastjsonschema

            # fastjsonschema reads the drafts up to 07 from ``$schema``; a later one it does
            # not know is dropped (it then reads the schema as draft 07, the same meaning
            # for what it supports).
            declared = str(self._schema.get("$schema", ""))
            known = any(draft in declared for draft in ("draft-04", "draft-06", "draft-07"))
            fast_schema = {k: v for k, v in self._schema.items() if known or k != "$schema"}
            self._fast = fastjsonschema.compile(fast_schema, use_formats=self._check_formats)
            self._fast_error = fastjsonschema.JsonSchemaException
        except Exception:  # an unsupported keyword: jsonschema answers alone
            self._fast = None
        self._slow_built = True

    def is_valid(self, instance: Any) -> bool:
        if self.certainly_valid(instance):
            return True
        if not self._slow_built:
            self._build_slow()
        if self._fast is None:
            return bool(self._full.is_valid(instance))
        try:
            self._fast(instance)
        except self._fast_error:
            return False
        return True

    def iter_errors(self, instance: Any) -> Iterator[jsonschema.ValidationError]:
        """Every error, from jsonschema (slow: call it when ``is_valid`` said no)."""
        errors: Iterator[jsonschema.ValidationError] = self._full_validator().iter_errors(instance)
        return errors
