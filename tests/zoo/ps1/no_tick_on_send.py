"""send() returns the current time without advancing the clock."""

# %% lamport_clock
class LamportClock:
    def __init__(self) -> None:
        self.time = 0

    def tick(self) -> int:
        self.time += 1
        return self.time

    def send(self) -> int:
        return self.time

    def receive(self, ts: int) -> int:
        self.time = max(self.time, ts) + 1
        return self.time
