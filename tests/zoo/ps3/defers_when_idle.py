"""Defers every REQUEST that arrives while it is not in the CS and never asked: the
asker waits forever for an idle process."""

# %% ricart_agrawala
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
        if msg.type == "REQUEST":
            theirs = (msg.ts, msg.sender)
            if self.state != "wanted" or self.request < theirs:
                self.waiting.append(msg.sender)
            else:
                self.send(msg.sender, "REPLY")
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
