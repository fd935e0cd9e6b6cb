"""Commission forms (委托单) generated from metadata: the spec, its
marshmallow schema, the sandboxed ``show_if``/``required_if`` expressions,
field validators and the item picker's search."""
from .expressions import Expression, ExpressionError, compile_expression
from .schema import collect, form_state, schema_for, validate_form
from .search import search_items
from .spec import FormSpecError, build_form_spec, prepare_form_spec, spec_fields
from .validators import normalise_id_number, sniff_file_type, valid_id_number, valid_mobile

__all__ = [
    "Expression", "ExpressionError", "FormSpecError", "build_form_spec", "collect", "compile_expression",
    "form_state", "normalise_id_number", "prepare_form_spec", "schema_for", "search_items", "sniff_file_type", "spec_fields",
    "valid_id_number", "valid_mobile", "validate_form",
]
