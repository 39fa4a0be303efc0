"""Volume types, extra specs, type access, encryption, default types, QoS specs."""

from blockstore.common.policies import base

A, R = base.RULE_ADMIN_API, base.ADMIN_OR_READER
T = '/types/{type_id}'
MANAGE = 'volume_extension:types_manage'
SPECS = 'volume_extension:types_extra_specs'
ACCESS = 'volume_extension:volume_type_access'
ENC = 'volume_extension:volume_type_encryption'
QOS = 'volume_extension:qos_specs_manage'
Q = '/qos-specs/{qos_id}'
D = '/default-types/{project_id}'

rules = [
    base.rule('volume_extension:type_get_all', R, 'List volume types.', [('GET', '/types')]),
    base.rule('volume_extension:type_get', R, 'Show a volume type.', [('GET', T)]),
    base.rule(MANAGE + ':create', A, 'Create a volume type.', [('POST', '/types')]),
    base.rule(MANAGE + ':update', A, 'Update a volume type.', [('PUT', T)]),
    base.rule(MANAGE + ':delete', A, 'Delete a volume type.', [('DELETE', T)]),
    base.rule(SPECS + ':index', R, "List a type's extra specs (sensitive ones admin only).",
              [('GET', T + '/extra_specs')]),
    base.rule(SPECS + ':show', R, 'Show one extra spec of a type.',
              [('GET', T + '/extra_specs/{key}')]),
    base.rule(SPECS + ':create', A, 'Create extra specs of a type.',
              [('POST', T + '/extra_specs')]),
    base.rule(SPECS + ':update', A, 'Update an extra spec of a type.',
              [('PUT', T + '/extra_specs/{key}')]),
    base.rule(SPECS + ':delete', A, 'Delete an extra spec of a type.',
              [('DELETE', T + '/extra_specs/{key}')]),
    base.rule(ACCESS, A, 'List the projects that may use a private type.',
              [('GET', T + '/os-volume-type-access')]),
    base.rule(ACCESS + ':addProjectAccess', A, 'Give a project access to a private type.',
              [('POST', T + '/action')]),
    base.rule(ACCESS + ':removeProjectAccess', A,
              "Remove a project's access to a private type.", [('POST', T + '/action')]),
    base.rule(ENC + ':get', A, 'Show the encryption spec of a type.',
              [('GET', T + '/encryption'), ('GET', T + '/encryption/{spec}')]),
    base.rule(ENC + ':create', A, 'Create the encryption spec of a type.',
              [('POST', T + '/encryption')]),
    base.rule(ENC + ':update', A, 'Update the encryption spec of a type.',
              [('PUT', T + '/encryption/{spec}')]),
    base.rule(ENC + ':delete', A, 'Delete the encryption spec of a type.',
              [('DELETE', T + '/encryption/{spec}')]),
    base.rule('volume_extension:default_set_or_update', A,
              'Set or update the default volume type of a project.', [('PUT', D)]),
    base.rule('volume_extension:default_get', A, 'Show the default type of a project.',
              [('GET', D)]),
    base.rule('volume_extension:default_get_all', A, 'List the default types of projects.',
              [('GET', '/default-types')]),
    base.rule('volume_extension:default_unset', A, 'Unset the default type of a project.',
              [('DELETE', D)]),
    base.rule(QOS + ':get_all', A, 'List QoS specs.', [('GET', '/qos-specs')]),
    base.rule(QOS + ':get', A, 'Show QoS specs or their associations.',
              [('GET', Q), ('GET', Q + '/associations')]),
    base.rule(QOS + ':create', A, 'Create QoS specs.', [('POST', '/qos-specs')]),
    base.rule(QOS + ':update', A, 'Update QoS specs, (dis)associate them with types.',
              [('PUT', Q), ('GET', Q + '/associate'), ('GET', Q + '/disassociate'),
               ('GET', Q + '/disassociate_all')]),
    base.rule(QOS + ':delete_keys', A, 'Delete keys of QoS specs.',
              [('PUT', Q + '/delete_keys')]),
    base.rule(QOS + ':delete', A, 'Delete QoS specs.', [('DELETE', Q)]),
]


def list_rules():
    return rules
