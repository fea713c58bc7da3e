"""Correct except that it answers REQUESTs in an order taken from a module-level counter:
its behaviour depends on something other than its state, so the grader cannot replay it."""

# %% ricart_agrawala
CALLS = [0]


class RicartAgrawala(Node):  # noqa: F821 (Node comes from the set-up cell)
    def on_start(self):
        self.state = "released"
        self.request = None
        self.granted = set()
        self.waiting = []

    def on_request_cs(self):
        self.state = "wanted"
        self.granted = set()
        self.request = (self.broadcast("REQUEST"), self.pid)
        self.maybe_enter()

    def on_message(self, msg):
        CALLS[0] += 1
        if msg.type == "REQUEST":
            theirs = (msg.ts, msg.sender)
            if self.state == "held" or (self.state == "wanted" and self.request < theirs):
                self.waiting.append(msg.sender)
            else:
                self.send(msg.sender, "REPLY", CALLS[0] % 2)
        elif msg.type == "REPLY":
            self.granted.add(msg.sender)
            self.maybe_enter()

    def on_exit_cs(self):
        self.state = "released"
        self.request = None
        for peer in self.waiting:
            self.send(peer, "REPLY")
        self.waiting = []

    def maybe_enter(self):
        if self.state == "wanted" and len(self.granted) == self.n - 1:
            self.state = "held"
            self.enter_cs()
