"""receive() takes max(own, ts) but forgets the +1: a receive is an event too."""

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
        self.time = max(self.time, ts)
        return self.time
