"""Money: integer minor units + ISO 4217 currency outside, `Decimal` inside, half-up rounding.

`to_minor(Decimal("12.345"), "USD") == 1235`, `to_decimal(1235, "USD") == Decimal("12.35")`,
`exponent("JPY") == 0`, `exponent("BHD") == 3`. Floats are refused everywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 (list one, active codes) with their minor-unit exponents. Codes whose minor
# unit is "N.A." (precious metals, SDR, testing and "no currency" codes) are listed with 0.
_THREE = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_FOUR = {"CLF", "UYW"}
_ZERO = {
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
    "XAF", "XOF", "XPF",
    # N.A. minor unit
    "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
}
_TWO = {
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD",
    "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW",
    "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR",
    "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
    "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
    "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
    # withdrawn from ISO 4217 but still in Lago's `Currency` enum: Lago clients may send them
    "ANG", "HRK", "MRO", "SLL", "STD",
}

CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 2 for c in _TWO}, **{c: 0 for c in _ZERO}, **{c: 3 for c in _THREE}, **{c: 4 for c in _FOUR},
}
CURRENCIES: frozenset[str] = frozenset(CURRENCY_EXPONENTS)


class UnknownCurrency(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency.upper()]
    except (KeyError, AttributeError) as exc:
        raise UnknownCurrency(f"not an ISO 4217 currency: {currency!r}") from exc


def is_currency(code: str) -> bool:
    return isinstance(code, str) and code.upper() in CURRENCY_EXPONENTS


def as_decimal(value: Decimal | int | str) -> Decimal:
    """Exact decimal from int/str/Decimal; floats are refused (they are not exact)."""
    if isinstance(value, (bool, float)):
        raise TypeError("money is never a float: pass a str, int or Decimal")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def round_half_up(value: Decimal, places: int) -> Decimal:
    return as_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round_to_currency(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round a major-unit amount half-up to the currency's exponent."""
    return round_half_up(as_decimal(amount), exponent(currency))


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Major units (Decimal) → integer minor units, rounding half-up once."""
    exp = exponent(currency)
    return int(round_half_up(as_decimal(amount), exp).scaleb(exp))


def to_decimal(minor_units: int, currency: str) -> Decimal:
    """Integer minor units → exact major-unit Decimal."""
    if isinstance(minor_units, bool) or not isinstance(minor_units, int):
        raise TypeError("minor units are an int")
    return Decimal(minor_units).scaleb(-exponent(currency))


def minor_round(amount_in_minor: Decimal | int | str) -> int:
    """Round an amount already expressed in minor units (e.g. a fee of 1234.5 cents) half-up."""
    return int(as_decimal(amount_in_minor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
