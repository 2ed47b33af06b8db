import uuid

import example_service as example
from sqlalchemy import select


async def test_create_publish_and_consume(start_example, wait_for_event):
    service = await start_example()
    org = uuid.uuid4()
    client = service.client(org)
    response = await client.post("/api/v1/widgets", json={"widget": {"code": "w1", "name": "W"}})
    assert response.status_code == 200, response.text
    widget_id = response.json()["widget"]["lago_id"]
    event = await wait_for_event("invora.widget", lambda e: e.aggregate_id == widget_id)
    assert event.type == "widget.created" and event.organization_id == org and event.sequence == 1
    assert event.correlation_id == response.headers["x-correlation-id"]
    import asyncio
    for _ in range(100):
        async with service.database.sessionmaker() as s:
            query = select(example.WidgetEcho).where(example.WidgetEcho.widget_id == widget_id)
            echoes = (await s.execute(query)).scalars().all()
        if echoes:
            break
        await asyncio.sleep(0.1)
    assert [e.event_id for e in echoes] == [event.id]
