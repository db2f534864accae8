"""A fake OpenAI-compatible chat server for tests: http.server in a thread on 127.0.0.1.

``FakeLLM(mode, pieces)``: ``sse`` streams ``pieces`` as chat.completion.chunk events and
``[DONE]``; ``json`` answers without streaming; ``error`` answers HTTP 500 with an OpenAI error
body; ``malformed`` sends a data line that is not JSON; ``cut`` stops before the end of the
answer; ``slow`` waits ``delay`` seconds before answering; ``trickle`` sends one event every
``delay`` seconds for ever. Requests (path, headers, JSON body) are kept in ``requests``.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chunk(text: str | None, finish: str | None = None) -> bytes:
    obj = {"id": "x", "object": "chat.completion.chunk", "model": "fake",
           "choices": [{"index": 0, "delta": {} if text is None else {"content": text}, "finish_reason": finish}]}
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"



def send_json(h: BaseHTTPRequestHandler, status: int, obj: object) -> None:
    """One JSON reply with its length."""
    body = json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)

class FakeLLM:
    def __init__(self, mode: str = "sse", pieces: tuple[str, ...] = ("Hej [1].",), delay: float = 0.0) -> None:
        self.mode, self.pieces, self.delay = mode, pieces, delay
        self.requests: list[tuple[str, dict, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, dict(self.headers), body))
                try:
                    fake.respond(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def respond(self, h: BaseHTTPRequestHandler) -> None:
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "error":
            send_json(h, 500, {"error": {"message": "model exploded", "type": "server_error"}})
            return
        if self.mode == "json":
            send_json(h, 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(self.pieces)},
                                            "finish_reason": "stop"}]})
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        if self.mode == "malformed":
            h.wfile.write(chunk("Början [1]. ") + b"data: {not json\n\n")
        elif self.mode == "trickle":
            while True:
                h.wfile.write(chunk("mer "))
                h.wfile.flush()
                time.sleep(self.delay)
        else:
            for p in self.pieces:
                h.wfile.write(chunk(p))
                h.wfile.flush()
            if self.mode != "cut":
                h.wfile.write(chunk(None, "stop") + b"data: [DONE]\n\n")
        h.wfile.flush()

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
