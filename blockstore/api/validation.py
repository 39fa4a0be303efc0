"""Request body validation with JSON schema, one declaration per microversion range.

A schema module declares each body once::

    create = validation.Versioned({'3.0': CREATE_LAX, '3.53': CREATE})

or, for the common case where 3.53 only made the body strict,
``validation.strict_since_353(CREATE)``: before 3.53 the same schema with
every ``additionalProperties: False`` relaxed (Cinder validated field values
before 3.53 too, but tolerated unknown keys).

Errors become ``exception.Invalid`` (400) with Cinder's wording:
``Invalid input for field/attribute <name>. Value: <value>. <reason>``.
"""

import base64
import binascii
import copy

import jsonschema
from jsonschema import exceptions as js_exc
from oslo_utils import uuidutils

from blockstore.api import microversion
from blockstore.common import exception

_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks('uuid')
def _is_uuid(value):
    if not isinstance(value, str):
        return True
    return uuidutils.is_uuid_like(value)


@_FORMATS.checks('base64')
def _is_base64(value):
    """Cinder's ``base64`` format (a backup record's backup_url)."""
    if not isinstance(value, str):
        return True
    if not value.isascii():
        return False
    try:
        base64.b64decode(value.encode('ascii'), validate=False)
    except (binascii.Error, ValueError):
        return False
    return True


def _compile(schema):
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=_FORMATS)


def relaxed(schema):
    """A copy of ``schema`` that tolerates unknown keys everywhere."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get('additionalProperties') is False:
                node['additionalProperties'] = True
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)
    return schema


def _message(error):
    if error.path:
        field = error.path[-1]
        return ('Invalid input for field/attribute %s. Value: %s. %s'
                % (field, error.instance, error.message))
    return error.message


class Versioned:
    """Schemas keyed by the first version they apply to (inclusive)."""

    def __init__(self, by_version):
        self._ranges = sorted(((microversion.v(k), _compile(s)) for k, s in by_version.items()),
                              reverse=True)
        if self._ranges[-1][0] != microversion.MIN:
            raise ValueError('a versioned schema must start at %s' % microversion.MIN)

    def validator(self, version):
        for since, validator in self._ranges:
            if version >= since:
                return validator
        raise AssertionError('unreachable')  # pragma: no cover

    def validate(self, body, version):
        validator = self.validator(version)
        error = js_exc.best_match(validator.iter_errors(body))
        if error is not None:
            raise exception.Invalid(_message(error))
        return body


def strict_since_353(schema):
    return Versioned({'3.0': relaxed(schema), '3.53': schema})


def always(schema):
    return Versioned({'3.0': schema})


def body_schema(schema):
    """Declare a handler's request body (a Versioned) for the OpenAPI document."""
    def decorator(func):
        func.request_schema = schema
        return func
    return decorator
