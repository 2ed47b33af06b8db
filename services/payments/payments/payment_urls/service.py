"""Pages hosted by the provider: paying one invoice (`payment_url`), and adding a payment method (`checkout_url`).

Both read what they need in a short transaction of their own and call the provider after it ends; the
customer is created at the provider on demand (`customers.ensure_provider_customer`).

**Never twice.** A payment URL is refused while the invoice has a live off-session attempt (pending,
processing, waiting for authentication): the charger may still take the money. The page's charge
carries `invora_invoice_id` in its metadata; when its `payment_intent.succeeded` webhook arrives
(verified, deduplicated through the inbox), `record_hosted_payment` records one succeeded provider
payment for the invoice, keyed by the provider's payment id (a unique index: a second webhook of the
same charge finds it and changes nothing). A page paid after the invoice was paid by other means is
still recorded (the money was taken) and logged as an overpayment, for a refund.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from invora.ids import parse_uuid, uuid7
from invora.logging import get_logger
from invora.service_client import ServiceClient
from payments.customers import repository as customers_repository
from payments.customers import service as customers
from payments.errors import (
    InvoiceHasLiveCharge,
    InvoiceNotPayableByUrl,
    NoLinkedPaymentProvider,
    ProviderRefused,
    ProviderUnavailable,
    WalletTransactionChargedOffSession,
    WalletTransactionNotFound,
    WalletTransactionNotPayableByUrl,
)
from payments.invoices import repository as invoices_repository
from payments.invoices import service as invoices
from payments.payment_providers import repository as providers_repository
from payments.payment_urls.schemas import (
    CustomerCheckoutUrl,
    InvoicePaymentDetails,
    WalletTransactionPaymentDetails,
)
from payments.payments import lifecycle
from payments.payments import repository as payments_repository
from payments.providers.base import ChargeResult, ProviderError, ProviderUnreachable
from payments.providers.registry import AdapterFactory
from payments.wallet_topups import repository as topups_repository
from payments.wallet_topups import service as topups

log = get_logger(__name__)
INVOICE_KEY = "invora_invoice_id"
ORGANIZATION_KEY = "invora_organization_id"
TOPUP_KEY = "invora_topup_charge_id"
WALLET_TRANSACTION_KEY = "invora_wallet_transaction_id"
# a top-up's page is given again while it may still be payable (Stripe's Checkout Sessions live 24 hours): a
# second page beside a payable first one could be paid twice
PAGE_REUSE = timedelta(hours=23)


async def _provider_of(session: AsyncSession, organization_id: uuid.UUID, customer) -> dict:
    code = customer["payment_provider_code"] if customer is not None else None
    provider = await providers_repository.by_code(session, organization_id, code) if code else None
    if provider is None:
        raise NoLinkedPaymentProvider()
    return provider.connection()


async def _call(coroutine):
    try:
        return await coroutine
    except ProviderUnreachable as exc:
        raise ProviderUnavailable(exc.message) from exc
    except ProviderError as exc:
        raise ProviderRefused(exc.message) from exc


async def invoice_payment_url(sessionmaker: async_sessionmaker[AsyncSession], adapters: AdapterFactory,
                              principal: Principal, invoice_id: uuid.UUID | None) -> InvoicePaymentDetails:
    organization_id = principal.organization_id
    async with sessionmaker() as session:
        invoice = await invoices.get(session, organization_id, invoice_id)
        ensure_customer_access(principal, invoice["customer_id"])
        due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
        if invoice["status"] != "finalized" or due <= 0:
            raise InvoiceNotPayableByUrl()
        if await payments_repository.live_attempt(session, invoice["id"]):
            raise InvoiceHasLiveCharge()
        customer = await customers_repository.by_id(session, organization_id, invoice["customer_id"])
        connection = await _provider_of(session, organization_id, customer)
        await session.commit()
    adapter = adapters.for_connection(connection)
    provider_customer_id = await _call(customers.ensure_provider_customer(sessionmaker, adapter, customer,
                                                                          connection))
    url = await _call(adapter.payment_url(
        provider_customer_id=provider_customer_id, amount_cents=due, currency=invoice["currency"],
        description=f"Invoice {invoice['number'] or invoice['id']}", success_url=connection["success_redirect_url"],
        metadata={INVOICE_KEY: str(invoice["id"]), ORGANIZATION_KEY: str(organization_id)}))
    return InvoicePaymentDetails(lago_customer_id=invoice["customer_id"], lago_invoice_id=invoice["id"],
                                 external_customer_id=invoice["external_customer_id"],
                                 payment_provider=connection["provider_type"], payment_url=url)


async def wallet_transaction_payment_url(sessionmaker: async_sessionmaker[AsyncSession], adapters: AdapterFactory,
                                        principal: Principal, transaction_id: uuid.UUID | None,
                                        now: datetime) -> WalletTransactionPaymentDetails:
    """The provider's page for a pending paid top-up wallets asked payments to collect with Lago's
    `payment_method_type: manual` (never charged off-session). One page per top-up at a time: the page made before
    is given again while it may still be payable, and a page being made refuses a second request meanwhile."""
    organization_id = principal.organization_id
    async with sessionmaker() as session:
        charge = await topups_repository.lock_by_transaction(session, organization_id, transaction_id) \
            if transaction_id else None
        if charge is None:
            raise WalletTransactionNotFound()
        ensure_customer_access(principal, charge["customer_id"])
        if charge["status"] != "pending":
            raise WalletTransactionNotPayableByUrl()
        if not charge["manual"]:
            raise WalletTransactionChargedOffSession()
        customer = await customers_repository.by_id(session, organization_id, charge["customer_id"])
        connection = await _provider_of(session, organization_id, customer)
        details = {"lago_customer_id": charge["customer_id"], "lago_wallet_transaction_id": transaction_id,
                   "external_customer_id": customer["external_id"], "payment_provider": connection["provider_type"]}
        if charge["hosted_at"] is not None and charge["hosted_at"] > now - PAGE_REUSE:
            if charge["hosted_url"] is None:  # another request is asking the provider for the page right now
                raise WalletTransactionChargedOffSession()
            if charge["payment_provider_code"] == connection["code"]:
                return WalletTransactionPaymentDetails(**details, payment_url=charge["hosted_url"])
        await topups_repository.begin_page(session, charge["id"], now, connection["code"])
        await session.commit()
    adapter = adapters.for_connection(connection)
    try:
        provider_customer_id = await _call(customers.ensure_provider_customer(sessionmaker, adapter, customer,
                                                                              connection))
        url = await _call(adapter.payment_url(
            provider_customer_id=provider_customer_id, amount_cents=charge["amount_cents"],
            currency=charge["currency"], description=charge["description"] or "Wallet top-up",
            success_url=connection["success_redirect_url"],
            metadata={TOPUP_KEY: str(charge["id"]), WALLET_TRANSACTION_KEY: str(transaction_id),
                      ORGANIZATION_KEY: str(organization_id)}))
    except BaseException:
        async with sessionmaker() as session:
            await topups_repository.page_failed(session, charge["id"], now)
            await session.commit()
        raise
    async with sessionmaker() as session:
        await topups_repository.page_made(session, charge["id"], now, url, provider_customer_id)
        await session.commit()
    return WalletTransactionPaymentDetails(**details, payment_url=url)


async def record_hosted_topup(session: AsyncSession, provider, provider_payment_id: str | None,
                              metadata: dict[str, str], charge: ChargeResult, now: datetime) -> str | None:
    """A top-up paid on its page (the page's metadata names the top-up charge): settled once, which answers wallets
    `wallet_topup_payment.succeeded`; None when the webhook is not about a top-up of this organization."""
    charge_id = parse_uuid(metadata.get(TOPUP_KEY))
    if charge_id is None or not provider_payment_id:
        return None
    if charge.status != "succeeded":
        return "not_settled"  # the page goes on (another card, authentication): only money taken is recorded
    topup = await topups_repository.lock_in_organization(session, provider.organization_id, charge_id)
    if topup is None:  # another organization's top-up id in the metadata: never touched
        return None
    if topup["status"] != "pending":
        if topup["provider_payment_id"] != provider_payment_id:
            log.warning("topup_page_paid_after_settlement", charge_id=str(topup["id"]),
                        provider_payment_id=provider_payment_id, amount_cents=charge.amount_cents)
        return "no_change"
    if charge.amount_cents < topup["amount_cents"] or not topup["manual"]:
        log.warning("topup_page_payment_refused", charge_id=str(topup["id"]), paid=charge.amount_cents,
                    due=topup["amount_cents"], manual=topup["manual"])
        return "not_settled"
    await topups.record_outcome(session, topup, charge, now)
    return "recorded"


async def customer_checkout_url(sessionmaker: async_sessionmaker[AsyncSession], adapters: AdapterFactory,
                                subscriptions: ServiceClient, principal: Principal,
                                external_customer_id: str) -> CustomerCheckoutUrl:
    """The provider's setup page; a customer created a moment ago (its `customer.created` not here yet, the
    classic "create the customer with its provider, then ask for the checkout URL") is asked of subscriptions."""
    organization_id = principal.organization_id
    async with sessionmaker() as session:
        customer = await customers.get_or_fetch(session, subscriptions, organization_id, external_customer_id)
        ensure_customer_access(principal, customer["id"])
        connection = await _provider_of(session, organization_id, customer)
        await session.commit()
    adapter = adapters.for_connection(connection)
    provider_customer_id = await _call(customers.ensure_provider_customer(sessionmaker, adapter, customer,
                                                                          connection))
    url = await _call(adapter.setup_url(provider_customer_id=provider_customer_id,
                                        success_url=connection["success_redirect_url"]))
    return CustomerCheckoutUrl(lago_customer_id=customer["id"], external_customer_id=customer["external_id"],
                               payment_provider=connection["provider_type"], payment_provider_code=connection["code"],
                               checkout_url=url)


async def record_hosted_payment(session: AsyncSession, provider, provider_payment_id: str | None,
                                metadata: dict[str, str], charge: ChargeResult, now: datetime) -> str | None:
    """A charge made on a hosted payment page (its metadata names the invoice), recorded once when it succeeded;
    None when the webhook is not about one of ours."""
    invoice_id = parse_uuid(metadata.get(INVOICE_KEY))
    if invoice_id is None or not provider_payment_id:
        return None
    if charge.status != "succeeded":
        return "not_settled"  # the page goes on (another card, authentication): only money taken is recorded
    if charge.amount_cents <= 0:  # a provider event without its amount: nothing to record it with
        log.warning("hosted_payment_without_amount", provider_payment_id=provider_payment_id)
        return "not_settled"
    invoice = await invoices_repository.by_id(session, provider.organization_id, invoice_id, lock=True)
    if invoice is None:  # another organization's invoice id in the metadata: never touched
        return None
    due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
    payment_id = uuid7()
    inserted = await payments_repository.insert(session, {
        "id": payment_id, "organization_id": invoice["organization_id"], "invoice_id": invoice["id"],
        "customer_id": invoice["customer_id"], "external_customer_id": invoice["external_customer_id"],
        "type": "provider", "amount_cents": charge.amount_cents, "currency": invoice["currency"],
        "payment_status": "succeeded", "provider_status": (charge.provider_status or "succeeded")[:50],
        "reference": str(payment_id), "idempotency_key": f"hosted-{provider_payment_id}",
        "payment_provider_id": provider.id, "payment_provider_code": provider.code,
        "payment_provider_type": provider.provider_type, "provider_payment_id": provider_payment_id,
        "payment_method_id": charge.payment_method_id, "paid_on": now.date(), "paid_at": now})
    if inserted is None:
        return "no_change"  # this charge is recorded already
    if charge.amount_cents > due:
        log.warning("hosted_payment_overpaid", invoice_id=str(invoice["id"]), due=due, paid=charge.amount_cents)
    if charge.amount_cents >= due:
        await lifecycle.cancel_uncalled_attempts(session, invoice, reason="invoice_paid")
    await lifecycle.publish_payment(session, payment_id, invoice["organization_id"], "payment.succeeded")
    return "recorded"
