"""Records its own request only when the first REPLY arrives: a REQUEST that comes
in before that is answered as if it were not interested, so both may enter."""

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
        self.pending = self.broadcast("REQUEST")
        self.request = None
        self.maybe_enter()

    def on_message(self, msg):
        if msg.type == "REQUEST":
            theirs = (msg.ts, msg.sender)
            mine = self.request
            if self.state == "held" or (self.state == "wanted" and mine and mine < theirs):
                self.waiting.append(msg.sender)
            else:
                self.send(msg.sender, "REPLY")
        elif msg.type == "REPLY":
            if self.request is None:
                self.request = (self.pending, self.pid)
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
