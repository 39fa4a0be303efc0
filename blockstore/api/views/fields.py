"""Field tables: which response fields exist at which microversion, for whom, in which view.

A view module declares its fields once, in the order Cinder renders them::

    FIELDS = FieldTable([
        Field('id', attr('id')),
        Field('group_id', attr('group_id'), since='3.13'),
        Field('provider_id', attr('provider_id'), since='3.21', admin=True),
    ])

``FieldTable.plan(kind, version, is_admin)`` returns the fields that apply,
computed once per (kind, version, is_admin) and cached, so rendering a list
is a loop over a precomputed tuple with no version comparisons per item.

A getter takes ``(item, rc)``: the resource (a versioned object or a DB row)
and the render context (request-wide values such as link prefixes).
"""

import datetime
import operator

from blockstore.api import microversion

# View kinds. Cinder renders three shapes of a resource:
#   SUMMARY - list index entries
#   DETAIL  - the detail view returned by create/update
#   FULL    - show and detail listings: DETAIL plus the attributes Cinder's
#             extensions add (os-vol-tenant-attr:..., os-extended-snapshot-...)
SUMMARY = 'summary'
DETAIL = 'detail'
FULL = 'full'
ALL_KINDS = frozenset((SUMMARY, DETAIL, FULL))
DETAIL_KINDS = frozenset((DETAIL, FULL))
FULL_ONLY = frozenset((FULL,))


class Field:
    __slots__ = ('name', 'get', 'since', 'until', 'admin', 'kinds', 'omit_none')

    def __init__(self, name, get, since=None, until=None, admin=False, kinds=DETAIL_KINDS,
                 omit_none=False):
        self.name = name
        self.get = get
        self.since = microversion.v(since) if since else microversion.MIN
        self.until = microversion.v(until) if until else microversion.MAX
        self.admin = admin
        self.kinds = frozenset(kinds)
        self.omit_none = omit_none

    def applies(self, kind, version, is_admin):
        return (kind in self.kinds and self.since <= version <= self.until
                and (is_admin or not self.admin))


class Plan:
    """The fields of one (kind, version, is_admin): what ``render`` iterates.

    Rendering is the hot loop of every listing (a thousand items of dozens of
    fields), so the plan sorts its getters once: plain attributes are read with
    one ``operator.attrgetter`` per item, timestamps with one more, constants
    come with the copied template dict (which also fixes the field order), and
    only the remaining getters are called one by one.
    """
    __slots__ = ('getters', 'omit_none', 'names', '_template', '_attr_keys', '_attr_get',
                 '_time_keys', '_time_get', '_computed')

    def __init__(self, fields):
        self.getters = tuple((f.name, f.get) for f in fields)
        self.omit_none = tuple(f.name for f in fields if f.omit_none)
        self.names = tuple(f.name for f in fields)
        template, attrs, times, computed = {}, [], [], []
        for name, get in self.getters:
            template[name] = None
            kind = getattr(get, 'field_kind', None)
            if kind == 'attr':
                attrs.append((name, get.attr_name))
            elif kind == 'time':
                times.append((name, get.attr_name))
            elif kind == 'const' and isinstance(get.value, _IMMUTABLE):
                template[name] = get.value
            else:
                computed.append((name, get))
        if len(template) != len(self.getters):
            # The same name twice (overlapping declarations): call every getter
            # in order so the last one wins, as a dict display would.
            attrs, times, computed = [], [], list(self.getters)
        self._template = template
        self._attr_keys, self._attr_get = _multi_getter(attrs)
        self._time_keys, self._time_get = _multi_getter(times)
        self._computed = tuple(computed)

    def render(self, item, rc):
        d = self._template.copy()
        if self._attr_keys:
            d.update(zip(self._attr_keys, self._attr_get(item)))
        if self._time_keys:
            d.update(zip(self._time_keys, map(format_time, self._time_get(item))))
        for name, get in self._computed:
            d[name] = get(item, rc)
        for name in self.omit_none:
            if d[name] is None:
                del d[name]
        return d

    def render_all(self, items, rc):
        render = self.render
        return [render(item, rc) for item in items]


_IMMUTABLE = (type(None), bool, int, float, str)


def _multi_getter(pairs):
    """(output names, getter returning a tuple of their attribute values) of ``pairs``."""
    if not pairs:
        return (), None
    attr_names = [a for _n, a in pairs]
    get = operator.attrgetter(*attr_names)
    if len(attr_names) == 1:
        single = get
        get = lambda item: (single(item),)  # noqa: E731
    return tuple(n for n, _a in pairs), get


class FieldTable:
    def __init__(self, fields):
        self.fields = tuple(fields)
        names = [(f.name, f.since, f.until, tuple(sorted(f.kinds))) for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError('duplicate field declaration in %s' % names)
        self._plans = {}

    def plan(self, kind, version, is_admin):
        key = (kind, version, bool(is_admin))
        plan = self._plans.get(key)
        if plan is None:
            plan = Plan([f for f in self.fields if f.applies(kind, version, is_admin)])
            self._plans[key] = plan
        return plan

    def names(self, kind, version, is_admin):
        return self.plan(kind, version, is_admin).names


# -- getter helpers -------------------------------------------------------

def attr(name):
    """Getter of an attribute present on both objects and DB rows."""
    get = operator.attrgetter(name)

    def getter(item, rc):
        return get(item)
    getter.field_kind, getter.attr_name = 'attr', name
    return getter


def const(value):
    def getter(item, rc):
        return value
    getter.field_kind, getter.value = 'const', value
    return getter


def empty_list(item, rc):
    return []


_UTC = datetime.timezone.utc


def format_time(dt):
    """Cinder's rendering of a timestamp: UTC, no offset, microseconds."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(_UTC).replace(tzinfo=None)
    return dt.isoformat(timespec='microseconds')


def time_attr(name):
    get = operator.attrgetter(name)

    def getter(item, rc):
        return format_time(get(item))
    getter.field_kind, getter.attr_name = 'time', name
    return getter


def metadata_of(item):
    """Metadata as a dict, from an object or a listing record (both have ``.metadata``)."""
    md = item.metadata
    return dict(md) if md else {}
