"""Attachment reads the API needs beside the attach service: to check policy and to render.

Handlers and views never query the database themselves: what they show or
check about attachments is fetched here, before rendering.
"""

from blockstore.db import attachments as db_att
from blockstore.objects import states

# Attachment list filters (API key -> column).
FILTER_COLUMNS = db_att.FILTER_COLUMNS


def service_attachments(ctx, volume_id, initiator):
    """The live attachments of a volume a compute service made for ``initiator``."""
    return [a for a in db_att.live_attachments(ctx, volume_id)
            if a.service_created and (a.connector or {}).get('initiator') == initiator]


def with_attachments(ctx, volume):
    """``volume`` with ``attachment_list`` (its attached attachments), for the volume view.

    Listings bring them along in one query (``db.api``); a single volume gets
    them here. Returns ``volume``.
    """
    if getattr(volume, 'attachment_list', None) is None:
        if volume.attach_status == states.ATTACHED:
            volume.attachment_list = db_att.attached_of_volumes(ctx, [volume.id])[volume.id]
        else:
            volume.attachment_list = []
    return volume
