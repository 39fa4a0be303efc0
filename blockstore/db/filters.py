"""Values of list filters that are not plain equality, turned into SQL conditions.

A filter maps a column to a value. Besides a plain value (``=``) and a list
(``IN``), a value may be:

* ``Like('vol')``: the column contains the text (Cinder's ``key~=value``,
  3.34), as ``LIKE '%vol%'`` with ``%``, ``_`` and ``\\`` taken literally;
* ``Compare({'gt': t1, 'lte': t2})``: every comparison holds (Cinder's
  time filters ``created_at=gt:...,lte:...``, 3.60).

Everything is done by the database; nothing is filtered in Python.
"""

import operator

import sqlalchemy as sa

from blockstore.common import exception

OPERATORS = {'gt': operator.gt, 'gte': operator.ge, 'lt': operator.lt, 'lte': operator.le,
             'eq': operator.eq, 'neq': operator.ne}


class Like(str):
    """Substring match of a text column."""
    __slots__ = ()


class Compare(dict):
    """{operator name: value}, all of which must hold."""
    __slots__ = ()


def escape_like(text):
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def condition(column, value, key=None):
    """The SQL condition of one filter on ``column``."""
    key = key or column.key
    if isinstance(value, Like):
        if not isinstance(column.type, sa.String):
            raise exception.InvalidInput(reason='%s~ is not a text filter' % key)
        return column.like('%' + escape_like(value) + '%', escape='\\')
    if isinstance(value, Compare):
        return sa.and_(*(OPERATORS[op](column, v) for op, v in sorted(value.items())))
    if isinstance(value, (list, tuple, set, frozenset)):
        return column.in_(tuple(value))
    return column == value
