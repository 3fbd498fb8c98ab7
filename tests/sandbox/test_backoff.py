"""The crash-loop back-off follows client-go's flowcontrol.Backoff, as the kubelet uses it."""

from labkit.sandbox.node.backoff import Backoff


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_delays_double_from_10s_to_a_300s_cap():
    clock = Clock()
    b = Backoff(clock=clock)
    seen = []
    assert not b.in_backoff_since("pod/c", clock.now)  # never failed: no waiting
    for _ in range(8):
        b.next("pod/c", clock.now)  # a failure, right after the previous wait ended
        seen.append(b.get("pod/c"))
        clock.now += b.get("pod/c") + 1
    assert seen == [10, 20, 40, 80, 160, 300, 300, 300]


def test_waiting_is_measured_from_the_last_exit():
    clock = Clock()
    b = Backoff(clock=clock)
    b.next("pod/c", clock.now)  # the first restart is immediate; the next waits 10 s
    clock.now += 1
    assert b.in_backoff_since("pod/c", clock.now)
    clock.now += 9.5
    assert not b.in_backoff_since("pod/c", clock.now - 10.5)


def test_ten_quiet_minutes_reset_the_back_off():
    clock = Clock()
    b = Backoff(clock=clock)
    for _ in range(4):
        b.next("pod/c", clock.now)
    assert b.get("pod/c") == 80
    clock.now += 601  # ran for more than 2 x 300 s without a failure
    b.next("pod/c", clock.now)
    assert b.get("pod/c") == 10
