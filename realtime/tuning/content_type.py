"""A speed-up: Twisted parses each POST's Content-Type once per distinct value, not per request.

twisted.web.http.Request.requestReceived parses the Content-Type of every POST with the email
package's header registry (0.07 ms a call) to see whether it is a form. The answer depends on
the header's bytes only, so it is kept for the last few distinct values.
"""

import functools

from realtime.tuning.patch import SPEED, Patch, verified_on


def _cached(stock):
    return functools.lru_cache(maxsize=32)(stock)


PATCH = Patch(
    name="content_type_cache",
    kind=SPEED,
    purpose="a POST's Content-Type is parsed once per distinct value",
    verified=verified_on("Twisted"),
    target="twisted.web:http._parseContentType",
    wrap=_cached,
)
