"""A local OpenAI-compatible chat server over a real socket, for tests and benchmarks.

    with FakeOpenAI(lambda body: completion("Paris")) as server:
        ... --base-url server.base_url ...
        assert len(server.requests) == 1

The handler receives the parsed request body (and the request count, if it takes two
arguments) and returns either a response body (dict, sent as 200 JSON) or a `Reply` for
status codes, delays, headers, garbage, or a dropped connection. Handlers run on the
server's thread; the server is threaded so concurrent clients are served concurrently.
"""

from __future__ import annotations

import inspect
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    body: Any = None  # dict -> JSON; str/bytes sent as they are
    status: int = 200
    delay: float = 0.0  # seconds before answering (a slow model, or a timeout)
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    cut: bool = False  # send the headers and half the body, then close (dropped mid-reply)


def completion(content: str | None = "", *, reasoning: str | None = None, tool_calls: list[dict] | None = None,
               finish_reason: str | None = None, model: str = "fake", prompt_tokens: int = 10,
               completion_tokens: int = 5) -> dict:
    """A chat.completion body as OpenAI's API returns it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                          else json.dumps(c["arguments"])}}
            for i, c in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop")}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) overflows when 64 clients connect at once, and the
    # refused connects then show up as lost throughput in the concurrency benchmarks.
    request_queue_size = 256


# The model names the tests ask for: GET /models lists them unless a test names its own, so
# the commands' endpoint check (ltrl_cli.llm.openai.check_endpoint) passes as it would
# against a real server that serves the model.
TEST_MODELS = ("fake", "fake-judge", "m", "f", "j", "judge", "writer-7b", "agent", "policy")


class FakeOpenAI:
    """Serves POST /v1/chat/completions and GET /v1/models on 127.0.0.1.

    `models`: the names GET /models lists (default TEST_MODELS); None: it answers 404, as a
    server without the route does. `models_reply`: what GET /models answers instead (a 401...).
    """

    def __init__(self, handler: Callable[..., Any], *, port: int = 0, models: tuple[str, ...] | None = TEST_MODELS,
                 models_reply: Reply | None = None):
        self.handler = handler
        self.models = models
        self.models_reply = models_reply
        self.model_checks = 0  # GET /models requests (not in `requests`, which are the chat calls)
        self._two_args = len(inspect.signature(handler).parameters) >= 2
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._make_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def get(self, path: str) -> Reply:
        """The answer to GET `path` (subclasses add routes): /v1/models lists `models`."""
        if path.rstrip("/").endswith("/models"):
            with self._lock:
                self.model_checks += 1
            if self.models_reply is not None:
                return self.models_reply
            if self.models is not None:
                return Reply({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "ltrl-tests"}
                                                         for m in self.models]})
        return Reply({"error": {"message": f"no route {path}"}}, status=404)

    def sent(self, body: dict, reply: Reply) -> None:
        """Called after a reply to a POST went out whole (subclasses count answers here)."""

    def _respond(self, body: dict) -> Any:
        with self._lock:
            self.requests.append(body)
            count = len(self.requests)
        return self.handler(body, count) if self._two_args else self.handler(body)

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._send(fake.get(self.path))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with fake._lock:
                    fake.headers.append(dict(self.headers))
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(Reply({"error": {"message": "bad json"}}, status=400))
                    return
                reply = fake._respond(body)
                reply = reply if isinstance(reply, Reply) else Reply(reply)
                if self._send(reply):
                    fake.sent(body, reply)

            def _send(self, reply: Reply) -> bool:
                """Send `reply`; True when it went out whole."""
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return False
                data = reply.body
                if isinstance(data, (dict, list)):
                    data = json.dumps(data).encode()
                elif isinstance(data, str):
                    data = data.encode()
                data = data or b""
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if reply.cut:
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return False
                    self.wfile.write(data)
                    return True
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    return False

        return Handler
