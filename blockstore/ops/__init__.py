"""Service layer of the operations API: services, clusters, zones, hosts, pools,
user messages and the cleanup of work left by failed services.

Quotas live in ``blockstore.common.quota`` (the volume service layer uses them).
"""
