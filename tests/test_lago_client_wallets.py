"""Lago's official Python client, unchanged, manages wallets and wallet transactions on the wallets service.

The customer is created through the client on the subscriptions service; wallets learns it from the
`customer.created` event (its projection), as in production.
"""

from __future__ import annotations

import time
import uuid

import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Customer, Wallet, WalletTransaction


@pytest.fixture
def clients(live_service, make_api_key):
    key = make_api_key(uuid.uuid4(), ["admin"])
    subscriptions = live_service("subscriptions", scheduler_enabled=False, consumers_enabled=False)
    wallets = live_service("wallets", scheduler_enabled=False, consumer_session_timeout_ms=2_000)
    return Client(api_key=key, api_url=subscriptions), Client(api_key=key, api_url=wallets)


def _create_when_known(lago: Client, wallet: Wallet, timeout: float = 30.0):
    """The first create may run before the customer's event has reached wallets: 404 until it has."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return lago.wallets.create(wallet)
        except LagoApiError as error:
            if error.status_code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_wallets_and_transactions_with_lago_client(clients):
    customers, lago = clients
    customers.customers.create(Customer(external_id="cus_wallet", name="Acme", currency="EUR"))

    wallet = _create_when_known(lago, Wallet(
        external_customer_id="cus_wallet", name="Prepaid", code="prepaid", rate_amount="2", currency="EUR",
        granted_credits="10", priority=5, metadata={"plan": "pro"}))
    assert wallet.lago_id and wallet.status == "active" and wallet.code == "prepaid"
    assert wallet.credits_balance == "10.0" and wallet.balance_cents == 2000 and wallet.priority == 5
    assert wallet.metadata == {"plan": "pro"}

    updated = lago.wallets.update(Wallet(name="Prepaid credits"), wallet.lago_id)
    assert updated.name == "Prepaid credits" and updated.balance_cents == 2000

    created = lago.wallet_transactions.create(WalletTransaction(
        wallet_id=wallet.lago_id, paid_credits="5", granted_credits="1"))
    transactions = created["wallet_transactions"]
    assert sorted(t.transaction_status for t in transactions) == ["granted", "purchased"]
    assert all(t.status == "settled" and t.transaction_type == "inbound" for t in transactions)

    voided = lago.wallet_transactions.create(WalletTransaction(wallet_id=wallet.lago_id, voided_credits="3"))
    [void] = voided["wallet_transactions"]
    assert void.transaction_status == "voided" and void.credit_amount == "3.0"

    found = lago.wallets.find(wallet.lago_id)
    assert found.credits_balance == "13.0" and found.balance_cents == 2600

    listed = lago.wallets.find_all({"external_customer_id": "cus_wallet"})
    assert [w.lago_id for w in listed["wallets"]] == [wallet.lago_id] and listed["meta"]["total_count"] == 1

    assert lago.wallets.merge_metadata(wallet.lago_id, {"tier": "gold"}) == {"plan": "pro", "tier": "gold"}

    with pytest.raises(LagoApiError) as invalid:
        lago.wallets.create(Wallet(external_customer_id="cus_wallet", rate_amount="0", currency="EUR"))
    assert invalid.value.status_code == 422

    terminated = lago.wallets.destroy(wallet.lago_id)
    assert terminated.status == "terminated" and terminated.balance_cents == 0


def test_a_manual_top_up_s_payment_url_through_lago_s_client(live_service, make_api_key, localstripe):
    """Lago's client creates a paid top-up with `payment_method_type: manual` on wallets and asks payments for its
    payment URL (`wallet_transactions.payment_url`): a Stripe Checkout page for the top-up's amount."""
    import httpx
    from lago_python_client.models import CustomerBillingConfiguration, PaymentMethod

    key = make_api_key(uuid.uuid4(), ["admin"])
    subscriptions = live_service("subscriptions", scheduler_enabled=False, consumers_enabled=False)
    wallets = live_service("wallets", scheduler_enabled=False, consumer_session_timeout_ms=2_000)
    payments = live_service("payments", stripe_api_base=localstripe.url, charger_enabled=False,
                            consumer_session_timeout_ms=2_000)
    connected = httpx.post(f"{payments}/api/v1/payment_providers", headers={"Authorization": f"Bearer {key}"},
                           json={"payment_provider": {"provider_type": "stripe", "code": "stripe_main",
                                                      "name": "Stripe", "secret_key": "sk_test_" + uuid.uuid4().hex}})
    assert connected.status_code == 200, connected.text
    stripe = localstripe.client()
    stripe_customer = stripe.v1.customers.create({"email": "payer@acme.test"}).id
    customers, lago, lago_payments = (Client(api_key=key, api_url=url) for url in (subscriptions, wallets, payments))
    customers.customers.create(Customer(
        external_id="cus_page", name="Acme", currency="EUR", email="payer@acme.test",
        billing_configuration=CustomerBillingConfiguration(payment_provider="stripe",
                                                           payment_provider_code="stripe_main",
                                                           provider_customer_id=stripe_customer)))
    wallet = _create_when_known(lago, Wallet(external_customer_id="cus_page", currency="EUR", rate_amount="1",
                                             name="Main", invoice_requires_successful_payment=True))
    [transaction] = lago.wallet_transactions.create(WalletTransaction(
        wallet_id=wallet.lago_id, paid_credits="20", invoice_requires_successful_payment=True,
        payment_method=PaymentMethod(payment_method_type="manual")))["wallet_transactions"]
    assert transaction.status == "pending"
    deadline = time.monotonic() + 60
    while True:  # payments learns of the customer and of the top-up from the bus
        try:
            url = lago_payments.wallet_transactions.payment_url(transaction.lago_id)
            break
        except LagoApiError as error:
            if error.status_code not in (404, 422) or time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    session = stripe.v1.checkout.sessions.retrieve(url.rsplit("/", 1)[-1])
    assert url.startswith("https://checkout.stripe.com/") and session.amount_total == 2_000
    assert lago_payments.wallet_transactions.payment_url(transaction.lago_id) == url  # one page per top-up
