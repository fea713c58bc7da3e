"""receive() just ticks: the message's timestamp is ignored."""

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
        return self.tick()
