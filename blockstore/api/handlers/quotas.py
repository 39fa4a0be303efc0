"""Quota sets (os-quota-sets), quota class sets (os-quota-class-sets) and limits.

Project members may read their own project's quotas and limits; changing
quotas, and reading other projects' or the classes, is for administrators
(Cinder's default policy).
"""

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import quotas as schemas
from blockstore.api.views import quotas as views
from blockstore.common import exception
from blockstore.common import quota
from blockstore.ops import quotas as ops

SHOW_POLICY = 'volume_extension:quotas:show'
UPDATE_POLICY = 'volume_extension:quotas:update'
DELETE_POLICY = 'volume_extension:quotas:delete'
CLASS_POLICY = 'volume_extension:quota_classes'


def _name(value, what):
    if not 1 <= len(value) <= 255:
        raise exception.InvalidInput(reason='%s must be between 1 and 255 characters long.'
                                     % what)
    return value


def _project(req, policy):
    """The URL's project, after checking the caller may act on it with ``policy``."""
    project = _name(req.urlvars['project_id'], 'quota_set_name')
    ctx = common.authorize(req, policy, {'project_id': project})
    return ctx, project


# -- os-quota-sets -----------------------------------------------------------------------------

def show(req):
    """GET /os-quota-sets/{project_id}[?usage=true]"""
    ctx, project = _project(req, SHOW_POLICY)
    usage = common.parse_bool(req.GET.get('usage', 'false'), 'usage')
    return common.json_response(views.quota_set(
        project, quota.get_project_quotas(ctx, project, usages=usage)))


def defaults(req):
    """GET /os-quota-sets/{project_id}/defaults"""
    ctx, project = _project(req, SHOW_POLICY)
    return common.json_response(views.quota_set(project, quota.defaults(ctx)))


def update(req):
    """PUT /os-quota-sets/{project_id} (admin): set limits; none may be below usage."""
    ctx, project = _project(req, UPDATE_POLICY)
    body = common.validated_body(req, schemas.update_quota)['quota_set']
    return common.json_response(views.quota_set_update(
        ops.update_project(ctx, project, body)))


def delete(req):
    """DELETE /os-quota-sets/{project_id} (admin): back to the defaults -> 200."""
    ctx, project = _project(req, DELETE_POLICY)
    ops.reset_project(ctx, project)
    return common.empty_response(200)


# -- os-quota-class-sets ---------------------------------------------------------------------

def class_show(req):
    """GET /os-quota-class-sets/{class_name} (admin)"""
    ctx = common.require_admin(req, CLASS_POLICY)
    name = _name(req.urlvars['class_name'], 'quota_class_name')
    return common.json_response(views.quota_class_set(name, quota.class_quotas(ctx, name)))


def class_update(req):
    """PUT /os-quota-class-sets/{class_name} (admin)"""
    ctx = common.require_admin(req, CLASS_POLICY)
    name = _name(req.urlvars['class_name'], 'quota_class_name')
    body = common.validated_body(req, schemas.update_quota_class)['quota_class_set']
    return common.json_response(views.quota_class_set_update(
        ops.update_class(ctx, name, body)))


# -- limits -------------------------------------------------------------------------------------

def limits(req):
    """GET /limits: the caller's absolute limits and usage (admins: ?project_id=, 3.39)."""
    ctx = common.authorize(req, 'limits_extension:used_limits')
    project = ctx.project_id
    if ctx.is_admin and common.version(req) >= mv.LIMITS_ADMIN_FILTER:
        project = req.GET.get('project_id', req.GET.get('tenant_id', project))
    return common.json_response(views.limits(
        quota.get_project_quotas(ctx, project, usages=True)))
