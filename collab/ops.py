"""Operations endpoints: /healthz for load balancers, /metrics for Prometheus."""

import asyncio
import hmac

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from realtime import metrics
from realtime.hub import get_hub

CHECK_TIMEOUT = 2.0


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _channel_layer_ok() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel(prefix="healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("the channel layer returned something else")


async def _check(name: str, check) -> str | None:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"{name}: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:
        return f"{name}: {type(error).__name__}: {error}"[:300]
    return None


async def healthz(request):
    """200 when the database and the channel layer both answer; 503 with the reasons if not."""
    problems = [
        problem
        for problem in await asyncio.gather(
            _check("database", sync_to_async(_database_ok, thread_sensitive=False)),
            _check("channel layer", _channel_layer_ok),
        )
        if problem
    ]
    body = {"status": "ok" if not problems else "unavailable", "problems": problems}
    response = JsonResponse(body, status=503 if problems else 200)
    response["Cache-Control"] = "no-store"
    return response


async def metrics_view(request):
    token = settings.NOTES_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics need the bearer token\n", status=401)
    return HttpResponse(
        metrics.render(get_hub()), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
