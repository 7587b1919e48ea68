"""GitHub and Jira webhooks feeding an organization's events (docs/webhooks.md).

- ``config``: each organization's secret per provider and its routes from a
  repository or project to a value stream;
- ``receive``: signature check, the delivery log that deduplicates, dispatch;
- ``github`` / ``jira``: what each event means, as flow items, transitions,
  deployments and changes;
- ``apply``: writing those through ``streams.ingest.events_import`` so that
  deliveries in any order leave the same rows.
"""

from streams.webhooks.config import (
    webhook_deliveries,
    webhook_endpoints,
    webhook_route_create,
    webhook_route_delete,
    webhook_route_for,
    webhook_routes,
    webhook_secret_for,
    webhook_secret_rotate,
)
from streams.webhooks.receive import (
    MAX_BODY_BYTES,
    PROVIDERS,
    Receipt,
    signature_refused,
    signature_valid,
    webhook_delivery_receive,
)

__all__ = [
    "MAX_BODY_BYTES",
    "PROVIDERS",
    "Receipt",
    "signature_refused",
    "signature_valid",
    "webhook_deliveries",
    "webhook_delivery_receive",
    "webhook_endpoints",
    "webhook_route_create",
    "webhook_route_delete",
    "webhook_route_for",
    "webhook_routes",
    "webhook_secret_for",
    "webhook_secret_rotate",
]
