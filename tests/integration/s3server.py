"""An S3-compatible server on loopback for tests and benchmarks: moto's server application.

    python tests/integration/s3server.py [--port 0] [--control FOLDER]

Prints ``port N`` once it listens on 127.0.0.1. With ``--control``, an upload (PUT) of a key whose last part is
the name of a file in FOLDER/hold stalls after half of its body has arrived: FOLDER/holding/<name> appears, and
the request ends with an error once the hold file is removed. That is how a test kills a worker mid-upload.
"""

import argparse
import sys
import time
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class HoldUploads:
    def __init__(self, app, control: Path):
        self.app = app
        self.hold = control / "hold"
        self.holding = control / "holding"
        self.hold.mkdir(parents=True, exist_ok=True)
        self.holding.mkdir(parents=True, exist_ok=True)

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "PUT":
            name = environ.get("PATH_INFO", "").rsplit("/", 1)[-1]
            if name and (self.hold / name).exists():
                length = int(environ.get("CONTENT_LENGTH") or 0)
                environ["wsgi.input"].read(length // 2)  # half of the object has arrived
                (self.holding / name).touch()
                while (self.hold / name).exists():
                    time.sleep(0.05)
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"held by the test"]
        return self.app(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control", type=Path)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    if args.control:
        app = HoldUploads(app, args.control)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"port {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
