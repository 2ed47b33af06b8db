"""Credit notes (`/api/v1/credit_notes`, Lago's): caps per fee and per invoice, taxes pro rata, numbering,
the credit consumed by the next invoice, void, estimate, idempotency, concurrency, access, bad input, and
Lago's python client."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invoicing.credit_notes import amounts

from .conftest import tax  # noqa: TID252

JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


async def one_off(world, api, customer: str = "cus_1") -> dict:
    """A finalized invoice: 100.00 € at the customer's 20 % and 25.00 € at 10 %: 125.00 + 22.50 = 147.50 €."""
    await world.tax("vat20", "20")
    await world.customer(customer, tax_codes=["vat20"])
    await world.add_on("setup", 10_000)
    await world.add_on("training", 2_500, taxes=[tax("training_tax", "10")])
    return (await api.ok("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": customer, "fees": [
        {"add_on_code": "setup"}, {"add_on_code": "training"}]}}))["invoice"]


def fee_ids(invoice: dict) -> tuple[str, str]:
    by_code = {f["item"]["code"]: f["lago_id"] for f in invoice["fees"]}
    return by_code["setup"], by_code["training"]


async def outbox(inv, org, prefix: str = "credit_note.") -> list[str]:
    async with inv.database.sessionmaker() as session:
        return list((await session.execute(text(
            "SELECT event_type FROM outbox_events WHERE envelope->>'organization_id' = :org "
            "AND event_type LIKE :prefix ORDER BY position"), {"org": str(org), "prefix": prefix + "%"})).scalars())


async def test_a_credit_note_with_taxes_per_fee_its_number_events_and_reads(world, api, inv, org):
    invoice = await one_off(world, api)
    assert invoice["total_amount_cents"] == 14_750
    setup, training = fee_ids(invoice)
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "reason": "duplicated_charge", "description": "twice",
        "items": [{"fee_id": setup, "amount_cents": 3_333}, {"fee_id": training, "amount_cents": 1_001}]}}))[
        "credit_note"]
    # 33.33 € × 20 % = 6.666 → 6.67 €; 10.01 € × 10 % = 1.001 → 1.00 €
    assert (note["sub_total_excluding_taxes_amount_cents"], note["taxes_amount_cents"], note["total_amount_cents"],
            note["credit_amount_cents"], note["refund_amount_cents"], note["balance_amount_cents"]) == (
        4_334, 767, 5_101, 5_101, 0, 5_101)
    assert {t["tax_code"]: t["amount_cents"] for t in note["applied_taxes"]} == {"vat20": 667, "training_tax": 100}
    assert note["number"] == f"{invoice['number']}-CN1" and note["sequential_id"] == 1
    assert (note["credit_status"], note["refund_status"], note["reason"]) == ("available", None, "duplicated_charge")
    assert sorted(i["amount_cents"] for i in note["items"]) == [1_001, 3_333]
    assert note["invoice_number"] == invoice["number"] and note["lago_invoice_id"] == invoice["lago_id"]
    second = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 100}]}}))["credit_note"]
    assert second["number"] == f"{invoice['number']}-CN2" and second["reason"] == "other"
    got = (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
    assert got["total_amount_cents"] == 5_101 and got["customer"]["external_id"] == "cus_1"
    # Lago's CreditNoteAppliedTaxObject: its own id (stable across reads), the credit note's, created_at
    assert all(t["lago_credit_note_id"] == note["lago_id"] and t["created_at"] == note["created_at"]
               and t["lago_id"] for t in note["applied_taxes"])
    assert len({t["lago_id"] for t in note["applied_taxes"]}) == 2
    assert [t["lago_id"] for t in got["applied_taxes"]] == [t["lago_id"] for t in note["applied_taxes"]]
    listed = await api.ok("GET", "/api/v1/credit_notes")
    assert [n["lago_id"] for n in listed["credit_notes"]] == [second["lago_id"], note["lago_id"]]
    assert listed["meta"]["total_count"] == 2
    mine = await api.ok("GET", "/api/v1/customers/cus_1/credit_notes", params={"reason": "duplicated_charge"})
    assert [n["lago_id"] for n in mine["credit_notes"]] == [note["lago_id"]]
    assert (await api.ok("GET", "/api/v1/customers/nobody/credit_notes"))["credit_notes"] == []
    # `credit_note.generated` follows the note's PDF (the documents consumer, off here; tests in test_documents.py)
    assert await outbox(inv, org) == ["credit_note.created"] * 2


async def test_caps_per_fee_and_per_invoice(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, training = fee_ids(invoice)
    body = await api.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 10_001}]}})
    assert body["error_details"] == {"amount_cents": ["higher_than_remaining_fee_amount"]}
    # the same fee twice in one note counts once, summed
    await api.error("POST", "/api/v1/credit_notes", {"credit_note": {"invoice_id": invoice["lago_id"], "items": [
        {"fee_id": setup, "amount_cents": 6_000}, {"fee_id": setup, "amount_cents": 4_001}]}})
    await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 9_000}]}})
    body = await api.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 1_001}]}})
    assert body["error_details"] == {"amount_cents": ["higher_than_remaining_fee_amount"]}
    last = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {"invoice_id": invoice["lago_id"], "items": [
        {"fee_id": setup, "amount_cents": 1_000}, {"fee_id": training, "amount_cents": 2_500}]}}))["credit_note"]
    assert last["total_amount_cents"] == 1_200 + 2_750
    # everything is credited: 108.00 + 39.50 = 147.50 € = the invoice
    async with inv.database.sessionmaker() as session:
        assert (await session.execute(text("SELECT sum(total_amount_cents) FROM credit_notes WHERE invoice_id = :i"),
                                      {"i": invoice["lago_id"]})).scalar_one() == 14_750
    body = await api.error("POST", "/api/v1/credit_notes", {"credit_note": {"invoice_id": invoice["lago_id"],
                                                                           "items": [{"fee_id": training,
                                                                                      "amount_cents": 1}]}})
    assert body["error_details"] == {"amount_cents": ["higher_than_remaining_fee_amount"]}


async def test_concurrent_credit_notes_on_one_invoice_never_exceed_the_fee(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    answers = await asyncio.gather(*(api.client.post("/api/v1/credit_notes", json={"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 4_000}]}}) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200, 200, 422, 422, 422, 422]
    numbers = sorted(a.json()["credit_note"]["number"] for a in answers if a.status_code == 200)
    assert numbers == [f"{invoice['number']}-CN1", f"{invoice['number']}-CN2"]
    async with inv.database.sessionmaker() as session:
        assert (await session.execute(text("SELECT sum(amount_cents) FROM credit_note_items WHERE fee_id = :f"),
                                      {"f": setup})).scalar_one() == 8_000


async def test_idempotency_key_replays_the_first_credit_note(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    request = {"credit_note": {"invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}]}}
    headers = {"Idempotency-Key": "cn-1"}
    first = await api.ok("POST", "/api/v1/credit_notes", request, headers=headers)
    again = await api.ok("POST", "/api/v1/credit_notes", request, headers=headers)
    assert again["credit_note"]["lago_id"] == first["credit_note"]["lago_id"]
    other = await api.client.post("/api/v1/credit_notes", json={"credit_note": {**request["credit_note"], "items": [
        {"fee_id": setup, "amount_cents": 501}]}}, headers=headers)
    assert other.status_code == 422
    assert (await api.ok("GET", "/api/v1/credit_notes"))["meta"]["total_count"] == 1
    assert await outbox(inv, org) == ["credit_note.created"]


async def test_the_credit_is_consumed_by_the_next_invoice_and_void_removes_only_what_is_left(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 10_000}]}}))["credit_note"]
    assert note["total_amount_cents"] == 12_000
    customer = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["customer"]
    plan = await world.plan(5_000)  # 50.00 € in arrears + 20 % = 60.00 €
    subscription = world.subscription(customer, plan, started_at=JAN.isoformat(), subscription_at=JAN.isoformat())
    await world.close(subscription, JAN, FEB)
    [billed] = [i for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"] if i["invoice_type"] == "subscription"]
    assert (billed["sub_total_including_taxes_amount_cents"], billed["credit_notes_amount_cents"],
            billed["total_amount_cents"]) == (6_000, 6_000, 0)
    half = (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
    assert (half["balance_amount_cents"], half["credit_status"]) == (6_000, "available")
    voided = (await api.ok("PUT", f"/api/v1/credit_notes/{note['lago_id']}/void"))["credit_note"]
    assert (voided["balance_amount_cents"], voided["credit_status"], voided["credit_amount_cents"]) == (
        0, "voided", 12_000)
    body = await api.error("PUT", f"/api/v1/credit_notes/{note['lago_id']}/void", status=405)
    assert body["code"] == "credit_note_already_voided"
    # voiding the invoice that consumed part of it gives nothing back to a voided credit note
    await api.ok("POST", f"/api/v1/invoices/{billed['lago_id']}/void")
    again = (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
    assert again["balance_amount_cents"] == 0
    # the void does not free the fee's cap (Lago): the fee stays credited
    await api.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 1}]}})


async def test_a_fully_consumed_credit_note_is_consumed(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 1_000}]}}))["credit_note"]
    customer = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["customer"]
    subscription = world.subscription(customer, await world.plan(5_000), started_at=JAN.isoformat(),
                                      subscription_at=JAN.isoformat())
    await world.close(subscription, JAN, FEB)
    got = (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
    assert (got["balance_amount_cents"], got["credit_status"]) == (0, "consumed")


async def test_estimate_writes_nothing(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, training = fee_ids(invoice)
    await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 9_000}]}})

    async def counts() -> tuple:
        async with inv.database.sessionmaker() as session:
            return tuple([(await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()  # noqa: S608
                          for t in ("credit_notes", "credit_note_items", "customer_credits", "outbox_events")])

    before = await counts()
    estimated = (await api.ok("POST", "/api/v1/credit_notes/estimate", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 1_000},
                                                    {"fee_id": training, "amount_cents": 2_500}]}}))[
        "estimated_credit_note"]
    assert (estimated["sub_total_excluding_taxes_amount_cents"], estimated["taxes_amount_cents"],
            estimated["max_creditable_amount_cents"], estimated["max_refundable_amount_cents"]) == (
        3_500, 450, 3_950, 0)
    assert await counts() == before
    body = await api.error("POST", "/api/v1/credit_notes/estimate", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 1_001}]}})
    assert body["error_details"] == {"amount_cents": ["higher_than_remaining_fee_amount"]}


async def test_bad_input_is_refused_with_field_errors_and_changes_nothing(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    url = "/api/v1/credit_notes"
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "items": []}})
    assert "items" in body["error_details"]
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "items": [
        {"fee_id": setup, "amount_cents": -5}]}})
    assert body["error_details"]
    await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "reason": "because", "items": [
        {"fee_id": setup, "amount_cents": 5}]}})
    await api.error("POST", url, {"credit_note": {"invoice_id": "not-a-uuid", "items": [
        {"fee_id": setup, "amount_cents": 5}]}})
    await api.error("POST", url, {"credit_note": {"invoice_id": str(uuid.uuid4()), "items": [
        {"fee_id": setup, "amount_cents": 5}]}}, status=404)
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "items": [
        {"fee_id": str(uuid.uuid4()), "amount_cents": 5}]}}, status=404)
    assert body["code"] == "fee_not_found"
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "refund_amount_cents": 6,
                                                        "items": [{"fee_id": setup, "amount_cents": 5}]}})
    assert list(body["error_details"]) == ["refund_amount_cents"]
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "offset_amount_cents": 7,
                                                        "items": [{"fee_id": setup, "amount_cents": 5}]}})
    assert list(body["error_details"]) == ["offset_amount_cents"]
    await api.error("PUT", f"{url}/estimate", {"credit_note": {"refund_status": "succeeded"}}, status=405)
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "credit_amount_cents": 5,
                                                        "items": [{"fee_id": setup, "amount_cents": 5}]}})
    assert body["error_details"] == {"credit_amount_cents": ["does_not_match_item_amounts"]}
    await api.error("PUT", f"{url}/{uuid.uuid4()}/void", status=404)
    await api.error("PUT", f"{url}/{uuid.uuid4()}", {"credit_note": {"refund_status": "succeeded"}}, status=404)
    # a voided invoice takes no credit note
    await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/void")
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "items": [
        {"fee_id": setup, "amount_cents": 5}]}}, status=405)
    assert body["code"] == "invalid_type_or_status"
    assert (await api.ok("GET", url))["credit_notes"] == []
    assert await outbox(inv, org) == []


async def test_other_organizations_and_tenant_keys(world, api, make_api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}]}}))["credit_note"]
    stranger = make_api(uuid.uuid4())
    await stranger.error("GET", f"/api/v1/credit_notes/{note['lago_id']}", status=404)
    await stranger.error("PUT", f"/api/v1/credit_notes/{note['lago_id']}/void", status=404)
    await stranger.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}]}}, status=404)
    await stranger.error("POST", "/api/v1/credit_notes/estimate", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}]}}, status=404)
    assert (await stranger.ok("GET", "/api/v1/credit_notes"))["credit_notes"] == []
    owner = make_api(org, roles=("tenant",), customer_id=uuid.UUID(invoice["customer"]["lago_id"]))
    assert (await owner.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]["lago_id"] == note[
        "lago_id"]
    assert [n["lago_id"] for n in (await owner.ok("GET", "/api/v1/credit_notes"))["credit_notes"]] == [
        note["lago_id"]]
    other = make_api(org, roles=("tenant",), customer_id=uuid.uuid4())
    await other.error("GET", f"/api/v1/credit_notes/{note['lago_id']}", status=403)
    assert (await other.ok("GET", "/api/v1/credit_notes"))["credit_notes"] == []
    await owner.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}]}}, status=403)
    await owner.error("PUT", f"/api/v1/credit_notes/{note['lago_id']}/void", status=403)


async def test_lagos_python_client_creates_and_lists_a_credit_note(world, api, inv, org, invora_kafka, invora_keys):
    from lago_python_client.client import Client  # noqa: PLC0415
    from lago_python_client.models import CreditNote, Item, Items  # noqa: PLC0415

    from invoicing.app import create_app  # noqa: PLC0415
    from invora.testing.live import serve  # noqa: PLC0415
    from invora.testing.services import service_settings  # noqa: PLC0415

    invoice = await one_off(world, api, "cus_lago")
    setup, _ = fee_ids(invoice)
    settings_ = service_settings("invoicing", database_url=inv.database_url, kafka=invora_kafka, keys=invora_keys,
                                 scheduler_enabled=False, consumers_enabled=False)

    def with_lago_client(url: str) -> None:
        client = Client(api_key=invora_keys.sign(org, ["admin"]), api_url=url)
        created = client.credit_notes.create(CreditNote(
            invoice_id=invoice["lago_id"], reason="order_change",
            items=Items(__root__=[Item(fee_id=setup, amount_cents=2_000)])))
        assert (created.total_amount_cents, created.number) == (2_400, f"{invoice['number']}-CN1")
        listed = client.credit_notes.find_all({"external_customer_id": "cus_lago"})
        assert [n.lago_id for n in listed["credit_notes"]] == [created.lago_id]
        assert client.credit_notes.find(str(created.lago_id)).credit_status == "available"

    with serve(create_app(settings_)) as url:
        await asyncio.to_thread(with_lago_client, url)


# ---- the maths, against a brute-force computation

fee_strategy = st.tuples(st.integers(1, 10**7), st.integers(0, 100),
                         st.sampled_from(["0", "5.5", "10", "20", "33.333"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(fee_strategy, min_size=1, max_size=5), st.data())
def test_taxes_and_coupons_to_the_cent_and_caps_never_exceeded(fee_specs, data):
    fees = {}
    for amount, coupon_percent, rate in fee_specs:
        fee_id = uuid.uuid4()
        coupons = Decimal(amount) * coupon_percent / 100
        fees[fee_id] = amounts.CreditableFee(fee_id, amount, coupons, 0,
                                             (amounts.FeeTax(f"t{rate}", "T", Decimal(rate)),))
    credited = dict.fromkeys(fees, 0)
    for _ in range(data.draw(st.integers(1, 4))):
        fee_id = data.draw(st.sampled_from(list(fees)))
        asked = data.draw(st.integers(1, fees[fee_id].amount_cents + 10))
        current = {k: amounts.CreditableFee(v.fee_id, v.amount_cents, v.precise_coupons_amount_cents, credited[k],
                                            v.taxes) for k, v in fees.items()}
        if amounts.over_cap(current, [(fee_id, asked)]):
            assert credited[fee_id] + asked > fees[fee_id].amount_cents
            continue
        credited[fee_id] += asked
        result = amounts.compute(current, [(fee_id, asked)])
        fee = fees[fee_id]
        share = Decimal(asked) * fee.precise_coupons_amount_cents / fee.amount_cents
        expected_tax = int(((asked - share) * fee.taxes[0].rate / 100).quantize(Decimal(1), ROUND_HALF_UP))
        assert result.taxes_amount_cents == expected_tax
        assert result.coupons_adjustment_amount_cents == int(share.quantize(Decimal(1), ROUND_HALF_UP))
        assert result.total_amount_cents == asked - result.coupons_adjustment_amount_cents + expected_tax
    assert all(credited[k] <= fees[k].amount_cents for k in fees)
