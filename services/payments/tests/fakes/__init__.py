"""Local fakes of the payment providers' HTTP APIs, one per provider, for the adapters' tests.

Each follows its provider's documented requests, answers and webhook signatures (the parts the
adapter uses), keeps its state in memory, and counts the charges it took, which is what the tests
count to prove that nothing was charged twice. None of them honours more than its provider does:
where a provider has no idempotency key, neither has its fake.
"""
