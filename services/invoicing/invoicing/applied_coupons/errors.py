"""Applied coupons' named errors."""

from __future__ import annotations

from invora.errors import MethodNotAllowed, NotFound


class AppliedCouponNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("applied_coupon")


class CouponNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("coupon")


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("customer")


class AppliedCouponAlreadyTerminated(MethodNotAllowed):
    code = "applied_coupon_already_terminated"
