"""Only pools whose reported capabilities satisfy the volume type's extra specs.

Unscoped keys and keys scoped ``capabilities:`` are matched; other scopes
(``qos:`` ...) are for other parts of the system. Values may use the
operators of Cinder's extra specs: ``<is>``, ``<in>``, ``<or>``, ``==``, ``!=``,
``>=``, ``<=``, ``s==``, ``s!=``; a plain value matches by string equality.
"""

import operator

_NUMERIC = {'=': operator.eq, '==': operator.eq, '!=': operator.ne, '>=': operator.ge,
            '<=': operator.le, '>': operator.gt, '<': operator.lt}
_STRING = {'s==': operator.eq, 's!=': operator.ne, 's>=': operator.ge, 's<=': operator.le,
           's>': operator.gt, 's<': operator.lt}
# Keys the scheduler itself does not match against capabilities.
_IGNORED = {'multiattach_policy', 'replication_type', 'volume_backend_name_ignored'}


def matches(value, requirement):
    words = str(requirement).split()
    if not words:
        return str(value) == ''
    op = words[0]
    if op == '<is>':
        want = len(words) > 1 and words[1].lower() == 'true'
        return _truthy(value) == want
    if op == '<in>':
        return len(words) > 1 and words[1] in str(value)
    if op == '<or>':
        choices = [w for w in words[1:] if w != '<or>']
        return str(value) in choices
    if op in _STRING and len(words) > 1:
        return _STRING[op](str(value), ' '.join(words[1:]))
    if op in _NUMERIC and len(words) > 1:
        try:
            return _NUMERIC[op](float(value), float(words[1]))
        except (TypeError, ValueError):
            return False
    return str(value) == str(requirement)


def _truthy(value):
    if isinstance(value, bool):
        return value
    return str(value).lower() in ('true', '1', 'yes', 'on')


class CapabilitiesFilter:
    def passes(self, pool, spec):
        extra_specs = (spec.get('volume_type') or {}).get('extra_specs') or {}
        for key, requirement in extra_specs.items():
            scope, _, name = key.rpartition(':')
            if scope and scope != 'capabilities':
                continue
            if name in _IGNORED:
                continue
            if name == 'multiattach':
                if _truthy(str(requirement).split()[-1]) and not _truthy(
                        pool.capabilities.get('multiattach', False)):
                    return False
                continue
            if name not in pool.capabilities:
                return False
            if not matches(pool.capabilities[name], requirement):
                return False
        return True
