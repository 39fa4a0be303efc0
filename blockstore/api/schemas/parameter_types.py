"""Reusable JSON-schema fragments (the value rules Cinder applies)."""

DB_MAX_INT = 0x7FFFFFFF

# Integers, or strings of digits (Cinder accepts "10"); 0 and negatives are refused
# (a digit string "0" passes here and is refused after conversion).
volume_size = {
    'type': ['integer', 'string'],
    'pattern': '^[0-9]+$',
    'minimum': 1,
    'maximum': DB_MAX_INT,
}

volume_size_allows_null = dict(volume_size, type=['integer', 'string', 'null'])

name = {'type': 'string', 'minLength': 1, 'maxLength': 255}
name_allow_zero_min_length = {'type': ['string', 'null'], 'minLength': 0, 'maxLength': 255}
description = {'type': ['string', 'null'], 'minLength': 0, 'maxLength': 255}
availability_zone = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255}

uuid = {'type': 'string', 'format': 'uuid'}
optional_uuid = {'type': ['string', 'null'], 'format': 'uuid'}

# Metadata and extra specs: string keys of 1-255 characters, string values of at most 255.
metadata = {
    'type': 'object',
    'propertyNames': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    'additionalProperties': {'type': 'string', 'maxLength': 255},
}
metadata_allows_null = dict(metadata, type=['object', 'null'])
extra_specs = metadata

_BOOL_STRINGS = ['t', 'true', 'on', 'y', 'yes', '1', 'f', 'false', 'off', 'n', 'no', '0']

boolean = {
    'type': ['boolean', 'string', 'integer'],
    'enum': [True, False, 0, 1] + _BOOL_STRINGS + [s.upper() for s in _BOOL_STRINGS]
    + [s.capitalize() for s in _BOOL_STRINGS if s.capitalize() not in _BOOL_STRINGS],
}
optional_boolean = dict(boolean, type=['boolean', 'string', 'integer', 'null'],
                        enum=boolean['enum'] + [None])


def bool_value(value, default=False):
    """The Python bool of a value that passed ``boolean``/``optional_boolean``."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ('t', 'true', 'on', 'y', 'yes', '1')
