"""receive() jumps to ts + 1 when the message is ahead, but does not count the receive as an
event when the own clock is ahead. Passes every visible test (they only receive messages
stamped ahead of the receiver); the hidden tests catch it."""

# %% lamport_clock
class LamportClock:
    def __init__(self) -> None:
        self.time = 0

    def tick(self) -> int:
        self.time += 1
        return self.time

    def send(self) -> int:
        return self.tick()

    def receive(self, ts: int) -> int:
        if ts >= self.time:
            self.time = ts + 1
        return self.time
