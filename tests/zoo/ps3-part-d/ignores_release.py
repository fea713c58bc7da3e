"""Never removes a released request from its queue: the first request to be served stays
at the head of everyone else's queue, so nobody else ever enters (liveness)."""

# %% lamport_1978
class Lamport1978(Node):  # noqa: F821 (Node comes from the set-up cell)
    def on_start(self):
        self.queue = set()
        self.latest = {}
        self.mine = None
        self.inside = False

    def on_request_cs(self):
        self.mine = (self.broadcast("REQUEST"), self.pid)
        self.queue.add(self.mine)
        self.try_enter()

    def on_message(self, msg):
        self.latest[msg.sender] = (msg.ts, msg.sender)
        if msg.type == "REQUEST":
            self.queue.add((msg.ts, msg.sender))
            self.send(msg.sender, "ACK")
        self.try_enter()

    def on_exit_cs(self):
        self.queue.discard(self.mine)
        self.mine = None
        self.inside = False
        self.broadcast("RELEASE")

    def try_enter(self):
        if self.mine is None or self.inside or min(self.queue) != self.mine:
            return
        if all(p in self.latest and self.latest[p] > self.mine for p in self.peers):
            self.inside = True
            self.enter_cs()
