"""Payload contracts of domain events, one module per producing service (`catalog`, …).

An event's `data` validates against the contract registered for its `type`; consumers import the
contract, never the producing service.
"""

