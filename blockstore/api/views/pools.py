"""Pools (scheduler-stats/get_pools), resource filters (3.33) and the workers cleanup
answer (3.24), in Cinder's wire format."""


def pools(found, detail):
    if detail:
        return {'pools': [{'name': p.get('name'), 'capabilities': p.get('capabilities')}
                          for p in found]}
    return {'pools': [{'name': p.get('name')} for p in found]}


def resource_filters(filters):
    return {'resource_filters': [{'resource': r, 'filters': f} for r, f in filters.items()]}


def _service(s):
    return {'id': s.id, 'host': s.host, 'binary': s.binary, 'cluster_name': s.cluster_name}


def cleanup(cleaning, unavailable):
    return {'cleaning': [_service(s) for s in cleaning],
            'unavailable': [_service(s) for s in unavailable]}
