"""The one skeleton of a manager's long work on one resource.

Every operation a manager runs for a work record goes through
:meth:`Runner.run`:

1. lock the resource (a distributed lock: see :func:`locked`) and refresh it;
2. skip a stale duplicate (or a late message): the resource must still be in
   the state the work expects, which is the source state of the operation's
   ``done`` event in the transition table (``objects/states.py``);
3. mark the work record as ours (this service);
4. check the driver is ready (:meth:`Runner.ensure_ready`, the one check);
5. call the work; it returns the values the ``done`` event writes;
6. apply ``done`` (or ``failed``) through the table -- or through the
   operation's ``end`` function (ops that settle the volume from its
   attachments in the same transaction);
7. clear the work record;
8. on failure run the operation's cleanup and leave a user message;
9. after the lock is released, run the operation's follow-up (tell Nova).

What differs between operations is an :class:`Operation`: its events, its
user message id and its hooks. Resources are the objects of
``blockstore.objects`` (volume, snapshot; backup and group next), which
know their ``_resource`` name, ``status``, ``project_id`` and ``transition``.
"""

from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import coordination
from blockstore.common import exception
from blockstore.common import messages
from blockstore.db import api as db
from blockstore.objects import states

LOG = logging.getLogger(__name__)

# What a work function returns when it finds, under the lock, that the work is no
# longer its own (a claim lost): nothing is applied, the record is cleared.
SKIPPED = object()


class Postponed(Exception):
    """Raised by work that stopped with its service and is left for its next start:
    no end is applied, no user message left, and the work record stays (the
    service's recovery at start finds it, as after a crash)."""
# What an ``end`` function returns when the work record now belongs to someone else
# (an extend handed to the compute host): the record is not cleared.
HANDED_OVER = object()


def reason_of(error):
    """The text of a failure, as a user message shows it."""
    return error.msg if isinstance(error, exception.BlockstoreException) else str(error)


def locked(resource, resource_id):
    """The lock every manager operation on one resource holds.

    A tooz lock (``common/coordination``): the members of a cluster serve one
    queue, so two nodes may get work on the same resource at once.
    """
    return coordination.lock('%s-%s' % (resource, resource_id))


def record_failure(project_id, resource, resource_id, event_id, error):
    """The user message of a failed operation."""
    messages.record(bs_context.get_admin_context(), project_id, resource.upper(),
                    resource_id, event_id, reason_of(error))


class Operation:
    """One kind of long work: what :meth:`Runner.run` needs besides the work itself.

    ``name``: the work record's operation. ``done``/``failed``: transition
    table events; ``target`` picks their state when it is a Choice.
    ``event_id``: the user message of a failure.

    Hooks (all optional):

    * ``end(context, resource_id, event, values)``: applies ``done``/``failed``
      instead of ``obj.transition``; True if it won (or ``HANDED_OVER``);
    * ``on_failure(context, obj, error)``: cleanup after a failed end (delete
      the Glance image of a failed upload);
    * ``after(context, obj, error)``: after the lock is released (``error``
      is None on success): tell Nova.

    Subclasses may read the expected state elsewhere (``state``/``expected``:
    a migration follows ``migration_status``) and clear the record of a
    skipped duplicate (``clear_on_skip``).
    """

    clear_on_skip = False

    def __init__(self, name, done, failed, event_id, target=None, end=None,
                 on_failure=None, after=None):
        self.name = name
        self.done = done
        self.failed = failed
        self.event_id = event_id
        self.target = target
        self._end = end
        self._on_failure = on_failure
        self._after = after

    def state(self, obj):
        return obj.status

    def expected(self, obj):
        """The states the work may start from: the sources of its ``done`` event."""
        return states.MACHINES[obj._resource].table[self.done].sources

    def end(self, context, obj, event, values):
        if self._end is not None:
            return self._end(context, obj.id, event, values)
        return obj.transition(event, target=self.target, **values)

    def on_failure(self, context, obj, error):
        if self._on_failure is not None:
            self._on_failure(context, obj, error)

    def after(self, context, obj, error):
        if self._after is not None:
            self._after(context, obj, error)


class Runner:
    """Runs operations for one manager.

    ``service``: returns the manager's Service record (set when the service
    starts, so it is asked each time). ``ready``: returns whether the driver
    is set up (setting it up if it is not).
    """

    def __init__(self, service, ready):
        self._service = service
        self._ready = ready

    def ensure_ready(self, context):
        """The one driver-ready check: raise DriverNotInitialized if it cannot be set up."""
        if not self._ready(context):
            raise exception.DriverNotInitialized()

    def claim(self, context, resource, resource_id):
        """Mark the resource's work record as this service's."""
        db.worker_set_service(context, resource, resource_id, self._service().id)

    def run(self, context, obj, op, work):
        """Run ``work`` as ``op`` on ``obj``; see the module docstring."""
        rtype = obj._resource
        with locked(rtype, obj.id):
            obj.refresh()
            if obj.deleted or op.state(obj) not in op.expected(obj):
                LOG.info('Skipping %s of %s %s: status is %s', op.name, rtype, obj.id,
                         op.state(obj))
                if op.clear_on_skip:
                    db.worker_destroy(context, rtype, obj.id, op.name)
                return
            self.claim(context, rtype, obj.id)
            error = None
            handed_over = False
            try:
                self.ensure_ready(context)
                values = work()
            except Postponed as e:
                LOG.info('%s of %s %s postponed: %s', op.name, rtype, obj.id, e)
                handed_over = True
                return
            except Exception as e:
                error = e
                LOG.exception('%s of %s %s failed', op.name, rtype, obj.id)
                op.end(context, obj, op.failed, {})
                op.on_failure(context, obj, e)
                record_failure(obj.project_id, rtype, obj.id, op.event_id, e)
            else:
                if values is SKIPPED:
                    return
                won = op.end(context, obj, op.done, values or {})
                handed_over = won is HANDED_OVER
                if not won:
                    LOG.warning('%s of %s %s finished but its state changed meanwhile',
                                op.name, rtype, obj.id)
            finally:
                if not handed_over:
                    db.worker_destroy(context, rtype, obj.id, op.name)
        op.after(context, obj, error)


class Worker:
    """Base of a concept's manager-side worker (attach, extend, images, manage, migrate).

    ``backend``: the backend it works on (host, driver, ``supports``/``require``);
    ``operations``: the manager's :class:`Runner`. The manager hands both to
    the worker explicitly; a worker reaches nothing else of the manager.
    """

    def __init__(self, backend, operations):
        self.backend = backend
        self.operations = operations
