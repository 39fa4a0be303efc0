"""Base rules: Cinder's personas (admin, project member, project reader)."""

from oslo_policy import policy

RULE_ADMIN_API = 'rule:admin_api'
RULE_ADMIN_OR_OWNER = 'rule:admin_or_owner'
SYSTEM_OR_PROJECT_MEMBER = 'rule:system_or_domain_or_project_member'
SYSTEM_OR_PROJECT_READER = 'rule:system_or_domain_or_project_reader'
PROJECT_MEMBER = 'rule:project_member'
PROJECT_READER = 'rule:project_reader'
# What the handlers use: administrators, or the persona on its own project.
ADMIN_OR_MEMBER = 'rule:admin_or_project_member'
ADMIN_OR_READER = 'rule:admin_or_project_reader'
ANY_AUTHENTICATED = ''
SERVICE_API = 'rule:service_api'

PROJECT_SCOPE = ['project']

rules = [
    policy.RuleDefault('context_is_admin', 'role:admin',
                       description='Decides who is an administrator.'),
    policy.RuleDefault('admin_api', 'rule:context_is_admin',
                       description='Default rule for most administrator APIs.'),
    policy.RuleDefault('admin_or_owner',
                       'rule:context_is_admin or project_id:%(project_id)s',
                       description='Default rule for most non-admin APIs (legacy).'),
    policy.RuleDefault('project_member', 'role:member and project_id:%(project_id)s',
                       description='A member of the target project.'),
    policy.RuleDefault('project_reader', 'role:reader and project_id:%(project_id)s',
                       description='A reader of the target project.'),
    policy.RuleDefault('admin_or_project_member', 'rule:admin_api or rule:project_member',
                       description='An administrator, or a member of the target project.'),
    policy.RuleDefault('admin_or_project_reader',
                       'rule:admin_api or rule:project_reader or rule:project_member',
                       description='An administrator, or a reader (or member) of the target '
                                   'project.'),
    policy.RuleDefault('service_api', 'role:service or service_roles:service',
                       description='A request of another service (e.g. the compute '
                                   'service): the service role in the token or in a '
                                   'service token.'),
    policy.RuleDefault('system_or_domain_or_project_member',
                       'rule:admin_or_project_member',
                       description='Alias of admin_or_project_member (Cinder\'s name).'),
    policy.RuleDefault('system_or_domain_or_project_reader',
                       'rule:admin_or_project_reader',
                       description='Alias of admin_or_project_reader (Cinder\'s name).'),
]


def rule(name, check_str, description, operations):
    """A documented, project-scoped rule; ``operations`` is [(method, path), ...]."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': m, 'path': p} for m, p in operations],
        scope_types=PROJECT_SCOPE)


def list_rules():
    return rules
