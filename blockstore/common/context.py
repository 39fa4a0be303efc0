"""Request context: who is asking, on behalf of which project."""

from oslo_context import context as o_context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(o_context.RequestContext):
    """oslo.context's context plus the flags the service layer needs."""

    def __init__(self, *args, read_deleted='no', service_roles=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.read_deleted = read_deleted
        if service_roles is not None:
            self.service_roles = service_roles

    def to_dict(self):
        d = super().to_dict()
        d['read_deleted'] = self.read_deleted
        return d

    @classmethod
    def from_dict(cls, values):
        kwargs = {k: values.get(k) for k in (
            'user_id', 'project_id', 'domain_id', 'user_domain_id', 'project_domain_id',
            'request_id', 'global_request_id', 'auth_token', 'service_roles',
            'user_name', 'project_name') if values.get(k) is not None}
        return cls(is_admin=values.get('is_admin', False),
                   roles=values.get('roles') or [],
                   read_deleted=values.get('read_deleted', 'no'), **kwargs)

    def elevated(self):
        ctx = self.__class__.from_dict(self.to_dict())
        ctx.is_admin = True
        if 'admin' not in ctx.roles:
            ctx.roles = list(ctx.roles) + ['admin']
        return ctx


def get_admin_context():
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False)
