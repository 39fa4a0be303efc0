"""QoS specs: named key/value sets associated with volume types (admin API)."""

from blockstore.common import exception
from blockstore.db import qos as db_qos
from blockstore.volume import volume_types

CONSUMERS = ('front-end', 'back-end', 'both')
DEFAULT_CONSUMER = 'back-end'


class QoSSpecsNotFound(exception.NotFound):
    msg_fmt = 'No such QoS spec %(specs_id)s.'


class QoSSpecsExists(exception.Conflict):
    msg_fmt = 'QoS Specs %(specs_id)s already exists.'


class QoSSpecsKeyNotFound(exception.Invalid):
    msg_fmt = 'QoS spec %(specs_key)s does not exist in QoS specs %(specs_id)s.'


class QoSSpecsInUse(exception.Invalid):
    msg_fmt = 'QoS Specs %(specs_id)s is still associated with entities.'


def _check_consumer(consumer):
    if consumer is not None and consumer not in CONSUMERS:
        raise exception.InvalidInput(
            reason='Valid consumer of QoS specs are: %s' % list(CONSUMERS))


def get(ctx, specs_id):
    row = db_qos.get(ctx, specs_id)
    if row is None:
        raise QoSSpecsNotFound(specs_id=specs_id)
    return row


def get_all(ctx):
    return db_qos.get_all(ctx)


def create(ctx, name, specs):
    """``specs``: every key but ``consumer`` is a spec."""
    specs = dict(specs)
    consumer = specs.pop('consumer', None) or DEFAULT_CONSUMER
    _check_consumer(consumer)
    row = db_qos.create(ctx, name, consumer, specs)
    if row is None:
        raise QoSSpecsExists(specs_id=name)
    return row


def update(ctx, specs_id, specs):
    specs = dict(specs)
    consumer = specs.pop('consumer', None)
    _check_consumer(consumer)
    if db_qos.update_specs(ctx, specs_id, consumer=consumer, specs=specs) is None:
        raise QoSSpecsNotFound(specs_id=specs_id)


def delete_keys(ctx, specs_id, keys):
    missing = db_qos.update_specs(ctx, specs_id, delete_keys=list(dict.fromkeys(keys)))
    if missing is None:
        raise QoSSpecsNotFound(specs_id=specs_id)
    if missing:
        raise QoSSpecsKeyNotFound(specs_key=missing[0], specs_id=specs_id)


def delete(ctx, specs_id, force=False):
    result = db_qos.delete(ctx, specs_id, force=force)
    if result == 'missing':
        raise QoSSpecsNotFound(specs_id=specs_id)
    if result == 'in_use':
        raise QoSSpecsInUse(specs_id=specs_id)


def associations(ctx, specs_id):
    get(ctx, specs_id)
    return [{'association_type': 'volume_type', 'name': t.name, 'id': t.id}
            for t in db_qos.associated_types(ctx, specs_id)]


def associate(ctx, specs_id, type_id):
    get(ctx, specs_id)
    vt = volume_types.get(ctx, type_id)
    other = db_qos.associate(ctx, specs_id, vt.id)
    if other is not None and other != specs_id:
        raise exception.InvalidVolumeType(
            reason='Type %s is already associated with another qos specs: %s' % (vt.id, other))
    # A type deleted meanwhile: the conditional update found no row.
    volume_types.get(ctx, vt.id)


def disassociate(ctx, specs_id, type_id):
    get(ctx, specs_id)
    vt = volume_types.get(ctx, type_id)
    db_qos.disassociate(ctx, specs_id, vt.id)


def disassociate_all(ctx, specs_id):
    get(ctx, specs_id)
    db_qos.disassociate(ctx, specs_id)
