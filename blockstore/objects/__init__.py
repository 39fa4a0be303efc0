"""Versioned objects. ``register_all()`` imports every object module."""


def register_all():
    __import__('blockstore.objects.service')
    __import__('blockstore.objects.volume_type')
    __import__('blockstore.objects.volume')
    __import__('blockstore.objects.snapshot')
    __import__('blockstore.objects.worker')
    __import__('blockstore.objects.backup')
