"""Enters as soon as its request heads its own queue, without condition (2): it has not
heard from everyone, so a request still in flight can be earlier. Unsafe at once."""

# %% lamport_1978
class Lamport1978(Node):  # noqa: F821 (Node comes from the set-up cell)
    def on_start(self):
        self.queue = set()
        self.mine = None
        self.inside = False

    def on_request_cs(self):
        self.mine = (self.broadcast("REQUEST"), self.pid)
        self.queue.add(self.mine)
        self.try_enter()

    def on_message(self, msg):
        if msg.type == "REQUEST":
            self.queue.add((msg.ts, msg.sender))
            self.send(msg.sender, "ACK")
        elif msg.type == "RELEASE":
            self.queue = {r for r in self.queue if r[1] != msg.sender}
        self.try_enter()

    def on_exit_cs(self):
        self.queue.discard(self.mine)
        self.mine = None
        self.inside = False
        self.broadcast("RELEASE")

    def try_enter(self):
        if self.mine is not None and not self.inside and min(self.queue) == self.mine:
            self.inside = True
            self.enter_cs()
