"""A Ctrl-C that library code swallows still stops the batch (``grader.interrupts``)."""

from __future__ import annotations

import signal

import pytest

from grader import interrupts


@pytest.fixture
def clean():
    interrupts.REQUESTED.clear()
    yield
    interrupts.REQUESTED.clear()


def test_a_swallowed_interrupt_is_still_seen(clean):
    interrupts.check()  # nothing asked: nothing raised
    try:  # what distributed's gc callback does with it: "Exception ignored", and on
        interrupts._handler(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_install_routes_sigterm_and_sigint(clean):
    old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        interrupts.install()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        assert interrupts.REQUESTED.is_set()
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])
