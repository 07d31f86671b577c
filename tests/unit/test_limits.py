"""The per-socket token bucket."""

from realtime.limits import TokenBucket


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_burst_then_the_steady_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.15  # one token back (and a half)
    assert bucket.take() and not bucket.take()
    clock.now += 60  # refills, but never beyond the burst
    assert sum(bucket.take() for _ in range(20)) == 5


def test_a_steady_sender_under_the_rate_is_never_refused():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    for _ in range(1000):
        clock.now += 0.11
        assert bucket.take()


def test_rate_zero_turns_limiting_off():
    bucket = TokenBucket(rate=0, burst=0, clock=FakeClock())
    assert all(bucket.take() for _ in range(10_000))
