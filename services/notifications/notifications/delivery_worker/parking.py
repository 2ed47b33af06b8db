"""The delivery worker's parking lot (`invora.parking`, loop `webhook-delivery`): deliveries whose attempt
crashed (a bug or stored data the sender cannot handle, not a failed request, which follows the retry
schedule). The crashed delivery waits out its back-off; the others are sent meanwhile."""

from invora.parking import Backoff, ParkingLot

DELIVERY_PARKING = ParkingLot("notifications", "webhook-delivery", Backoff(initial=30.0, maximum=3600.0))
