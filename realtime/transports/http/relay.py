"""
Across processes: a POST that reaches a process other than the one holding its session.

Behind a load balancer without sticky sessions, a client's stream and its POSTs may land on
different daphne processes. The session's name says which process holds it (its first 16 hex
digits are that hub's id), so the process the POST reached forwards it over the channel layer
to that hub's own group and waits for the answer, which it gives the client as its own. No
answer within FORWARD_TIMEOUT is a 503, and the client retries with the same X-Notes-Seq (the
holder applies each seq once). docs/deploy.md discusses the choice.
"""

import asyncio
import logging
import secrets
import uuid

from notes import broadcast
from realtime.transports.http.sessions import Answer, get_sessions

logger = logging.getLogger("realtime.http")

FORWARD_TIMEOUT = 5.0
NO_ANSWER = Answer(503, {"error": "The server holding this session did not answer; retry"})

_waiting: dict[str, asyncio.Future] = {}


async def forward(hub, holder: str, request: dict) -> Answer:
    """Send one POST to the process `holder` and return its answer."""
    await install(hub)
    ask = secrets.token_hex(8)
    answer = asyncio.get_running_loop().create_future()
    _waiting[ask] = answer
    message = dict(request, note_id=str(request["note_id"]))
    try:
        await broadcast.send_to_hub(
            holder, {"type": broadcast.HTTP_SEND, "from": hub.hub_id, "ask": ask, **message}
        )
        return await asyncio.wait_for(answer, FORWARD_TIMEOUT)
    except TimeoutError:
        logger.warning("no answer to a forwarded POST", extra={"holder": holder})
        return NO_ANSWER
    except Exception:
        logger.exception("forwarding a POST failed", extra={"holder": holder})
        return NO_ANSWER
    finally:
        _waiting.pop(ask, None)


async def install(hub) -> None:
    """Receive forwarded POSTs and their answers on this process's hub channel."""
    if broadcast.HTTP_SEND not in hub.bus.handlers:
        hub.bus.on(broadcast.HTTP_SEND, _deliver)
        hub.bus.on(broadcast.HTTP_ANSWER, _answered)
    await hub.start()


async def _deliver(message: dict) -> None:
    """On the holder: apply a forwarded POST and send its answer back."""
    answer = await get_sessions().deliver(
        token=message["token"],
        note_id=uuid.UUID(message["note_id"]),
        session_key=message["session_key"],
        seq=message["seq"],
        received=message["received"],
        body=message["body"],
        end=message["end"],
    )
    await broadcast.send_to_hub(
        message["from"],
        {
            "type": broadcast.HTTP_ANSWER,
            "ask": message["ask"],
            "status": answer.status,
            "body": answer.body,
        },
    )


async def _answered(message: dict) -> None:
    answer = _waiting.get(message["ask"])
    if answer is not None and not answer.done():
        answer.set_result(Answer(message["status"], message["body"]))
