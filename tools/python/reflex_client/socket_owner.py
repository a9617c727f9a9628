"""What every class here that owns one zmq socket (``self._socket``) shares: close() and ``with``."""


class SocketOwner:
    def close(self):
        self._socket.close(linger=0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
