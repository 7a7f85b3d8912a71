"""moto's server, answering one request at a time: the DynamoDB stand-in of tests/run.sh.

usage: moto_serial.py HOST PORT

`moto_server` answers each request on its own thread, and moto applies a conditional
update as a read, a check and a write that another thread can interleave with, so two
concurrent `UpdateItem ... ConditionExpression` calls on one item can both pass where
DynamoDB would refuse one. DynamoDB serialises the writes to an item; answering one
request at a time gives the same guarantee here, so the store's concurrency tests (50
tasks on one rate-limit counter) test the store's conditions, not moto's threading.
Concurrency is still real on the client side: the requests queue on the socket.
"""
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
