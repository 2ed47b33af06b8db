"""Credit notes' metadata (Lago's `POST|PATCH|DELETE /credit_notes/{id}/metadata`, `DELETE …/metadata/{key}`,
`metadata` at creation and merged by `PUT`): the rules, the limits, concurrency, access, no event, and Lago's
python client."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from .test_credit_notes import fee_ids, one_off, outbox  # noqa: TID252


async def a_note(world, api, metadata: dict | None = None, customer: str = "cus_1") -> dict:
    invoice = await one_off(world, api, customer)
    setup, _ = fee_ids(invoice)
    body = {"invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}]}
    if metadata is not None:
        body["metadata"] = metadata
    return (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": body}))["credit_note"]


async def stored(inv, note_id: str) -> tuple:
    async with inv.database.sessionmaker() as session:
        return (await session.execute(text("SELECT metadata, updated_at FROM credit_notes WHERE id = :id"),
                                      {"id": note_id})).one()


async def test_replace_merge_delete_key_and_delete_all(world, api, inv, org):
    note = await a_note(world, api, {"erp_id": "E-1", "synced": None})
    assert note["metadata"] == {"erp_id": "E-1", "synced": None}
    url = f"/api/v1/credit_notes/{note['lago_id']}/metadata"
    assert await api.ok("PATCH", url, {"metadata": {"synced": "2026-12-01", "batch": "7"}}) == {
        "metadata": {"erp_id": "E-1", "synced": "2026-12-01", "batch": "7"}}
    assert await api.ok("POST", url, {"metadata": {"only": "this"}}) == {"metadata": {"only": "this"}}
    assert (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]["metadata"] == {
        "only": "this"}
    assert await api.ok("DELETE", f"{url}/absent") == {"metadata": {"only": "this"}}  # Lago: nothing changes
    assert await api.ok("DELETE", f"{url}/only") == {"metadata": None}  # the last key: no metadata left
    body = await api.error("DELETE", f"{url}/only", status=404)  # Lago: no metadata at all
    assert body["code"] == "metadata_not_found"
    assert await api.ok("POST", url, {"metadata": {"a": "1", "b": "2"}}) == {"metadata": {"a": "1", "b": "2"}}
    assert await api.ok("DELETE", url) == {"metadata": None}
    assert await api.ok("DELETE", url) == {"metadata": None}
    assert await api.ok("POST", url, {"metadata": {}}) == {"metadata": None}
    assert await api.ok("PATCH", url, {"metadata": {"x": "1"}}) == {"metadata": {"x": "1"}}
    assert (await stored(inv, note["lago_id"]))[0] == {"x": "1"}
    # Lago's PUT merges metadata, and refund_status is optional then
    updated = (await api.ok("PUT", f"/api/v1/credit_notes/{note['lago_id']}", {"credit_note": {
        "metadata": {"y": "2"}}}))["credit_note"]
    assert updated["metadata"] == {"x": "1", "y": "2"} and updated["refund_status"] is None
    listed = (await api.ok("GET", "/api/v1/credit_notes"))["credit_notes"]
    assert [n["metadata"] for n in listed] == [{"x": "1", "y": "2"}]
    # Lago publishes nothing on a metadata change: the note's creation event only (`credit_note.generated`
    # follows its PDF: the documents consumer, off in these tests)
    assert await outbox(inv, org) == ["credit_note.created"]


async def test_updated_at_moves_only_when_something_changed(world, api, inv):
    note = await a_note(world, api, {"a": "1"})
    url = f"/api/v1/credit_notes/{note['lago_id']}/metadata"
    _, before = await stored(inv, note["lago_id"])
    await api.ok("PATCH", url, {"metadata": {"a": "1"}})
    await api.ok("DELETE", f"{url}/absent")
    assert (await stored(inv, note["lago_id"]))[1] == before
    await api.ok("PATCH", url, {"metadata": {"a": "2"}})
    assert (await stored(inv, note["lago_id"]))[1] > before


@pytest.mark.parametrize("method, body", [
    ("POST", {"metadata": {"k" * 101: "v"}}),
    ("POST", {"metadata": {"k": "v" * 256}}),
    ("POST", {"metadata": {f"k{i}": "v" for i in range(51)}}),
    ("PATCH", {"metadata": {"k": 5}}),
    ("PATCH", {"metadata": {"k": {"nested": "no"}}}),
    ("POST", {"metadata": ["a"]}),
    ("POST", {"metadata": "a"}),
    ("PATCH", {"metadata": {"k": "a\x00b"}}),
    ("PATCH", {"metadata": {"": "empty key"}}),
    ("POST", {"metadata": {"a": "1"}, "other": 1}),
])
async def test_bad_metadata_is_422_with_field_errors_and_changes_nothing(world, api, inv, method, body):
    note = await a_note(world, api, {"a": "1"})
    _, before = await stored(inv, note["lago_id"])
    error = await api.error(method, f"/api/v1/credit_notes/{note['lago_id']}/metadata", body, status=422)
    assert error["code"] == "validation_errors" and error["error_details"]
    assert await stored(inv, note["lago_id"]) == ({"a": "1"}, before)


async def test_a_missing_root_key_is_lagos_400(world, api, inv):
    note = await a_note(world, api, {"a": "1"})
    error = await api.error("POST", f"/api/v1/credit_notes/{note['lago_id']}/metadata", {}, status=400)
    assert error["code"] == "missing_param"
    assert (await stored(inv, note["lago_id"]))[0] == {"a": "1"}


async def test_bad_metadata_at_creation_and_on_put_is_422_and_writes_nothing(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    body = await api.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": setup, "amount_cents": 500}],
        "metadata": {"k": "v" * 256}}}, status=422)
    assert "metadata" in str(body["error_details"])
    assert (await api.ok("GET", "/api/v1/credit_notes"))["credit_notes"] == []
    note = await a_note(world, api, {f"k{i}": "v" for i in range(50)}, customer="cus_2")
    body = await api.error("PUT", f"/api/v1/credit_notes/{note['lago_id']}", {"credit_note": {
        "metadata": {"one_more": "v"}}}, status=422)
    assert body["error_details"] == {"metadata": ["too_many_keys"]}
    assert len((await stored(inv, note["lago_id"]))[0]) == 50


async def test_a_merge_may_not_exceed_fifty_keys(world, api, inv):
    note = await a_note(world, api, {f"old{i}": "v" for i in range(30)})
    url = f"/api/v1/credit_notes/{note['lago_id']}/metadata"
    error = await api.error("PATCH", url, {"metadata": {f"new{i}": "v" for i in range(21)}}, status=422)
    assert error["error_details"] == {"metadata": ["too_many_keys"]}
    assert len((await stored(inv, note["lago_id"]))[0]) == 30
    merged = await api.ok("PATCH", url, {"metadata": {f"old{i}": "w" for i in range(30)} | {"n": "1"}})
    assert len(merged["metadata"]) == 31  # overwritten keys do not count twice


async def test_concurrent_merges_all_land(world, api, inv):
    note = await a_note(world, api)
    url = f"/api/v1/credit_notes/{note['lago_id']}/metadata"
    await asyncio.gather(*(api.ok("PATCH", url, {"metadata": {f"k{i}": str(i)}}) for i in range(8)))
    assert (await stored(inv, note["lago_id"]))[0] == {f"k{i}": str(i) for i in range(8)}


async def test_other_organizations_tenant_keys_and_unknown_notes(world, api, make_api, inv, org):
    note = await a_note(world, api, {"a": "1"})
    url = f"/api/v1/credit_notes/{note['lago_id']}/metadata"
    stranger = make_api(uuid.uuid4())
    await stranger.error("POST", url, {"metadata": {"x": "1"}}, status=404)
    await stranger.error("PATCH", url, {"metadata": {"x": "1"}}, status=404)
    await stranger.error("DELETE", url, status=404)
    await stranger.error("DELETE", f"{url}/a", status=404)
    await stranger.error("PUT", f"/api/v1/credit_notes/{note['lago_id']}", {"credit_note": {"metadata": {"x": "1"}}},
                         status=404)
    owner = make_api(org, roles=("tenant",), customer_id=uuid.UUID(note["customer"]["lago_id"]))
    assert (await owner.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]["metadata"] == {"a": "1"}
    await owner.error("PATCH", url, {"metadata": {"x": "1"}}, status=403)
    await owner.error("DELETE", f"{url}/a", status=403)
    body = await api.error("PATCH", f"/api/v1/credit_notes/{uuid.uuid4()}/metadata", {"metadata": {"x": "1"}},
                           status=404)
    assert body["code"] == "credit_note_not_found"
    # the house answers a malformed id as an unknown one
    await api.error("DELETE", "/api/v1/credit_notes/not-a-uuid/metadata", status=404)
    assert (await stored(inv, note["lago_id"]))[0] == {"a": "1"}


async def test_lagos_python_client_reads_and_changes_metadata(world, api, inv, org, invora_kafka, invora_keys):
    from lago_python_client.client import Client  # noqa: PLC0415
    from lago_python_client.exceptions import LagoApiError  # noqa: PLC0415

    from invoicing.app import create_app  # noqa: PLC0415
    from invora.testing.live import serve  # noqa: PLC0415
    from invora.testing.services import service_settings  # noqa: PLC0415

    note = await a_note(world, api, {"erp": "E-1"}, customer="cus_lago")
    settings_ = service_settings("invoicing", database_url=inv.database_url, kafka=invora_kafka, keys=invora_keys,
                                 scheduler_enabled=False, consumers_enabled=False)

    def with_lago_client(url: str) -> None:
        client = Client(api_key=invora_keys.sign(org, ["admin"]), api_url=url)
        assert client.credit_notes.find(note["lago_id"]).metadata == {"erp": "E-1"}
        assert client.credit_notes.merge_metadata(note["lago_id"], {"b": "2"}) == {"erp": "E-1", "b": "2"}
        assert client.credit_notes.replace_metadata(note["lago_id"], {"c": None}) == {"c": None}
        assert client.credit_notes.delete_metadata_key(note["lago_id"], "c") is None
        with pytest.raises(LagoApiError):
            client.credit_notes.delete_metadata_key(note["lago_id"], "c")
        assert client.credit_notes.merge_metadata(note["lago_id"], {"d": "4"}) == {"d": "4"}
        assert client.credit_notes.delete_all_metadata(note["lago_id"]) is None

    with serve(create_app(settings_)) as url:
        await asyncio.to_thread(with_lago_client, url)
    assert (await stored(inv, note["lago_id"]))[0] is None
