"""The coupons' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class CouponNotFound(NotFound):
    resource = "coupon"
