"""Runs localstripe for `make run`: on 127.0.0.1 only (localstripe itself binds
every interface), on the port given as the first argument, with its store in
the folder given as the second (instead of the shared /tmp/localstripe.pickle),
starting from scratch each time. Run it with the .venv's Python."""
import os
import pickle
import signal
import socket
import sys

signal.pthread_sigmask(signal.SIG_SETMASK, [])
import localstripe.resources as resources  # noqa: E402
import localstripe.server as server  # noqa: E402
from aiohttp import web  # noqa: E402

port = int(sys.argv[1])
folder = sys.argv[2]
os.makedirs(folder, exist_ok=True)
store_path = os.path.join(folder, "localstripe.pickle")


def dump_to_disk(self):
    with open(store_path, "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)


resources.Store.dump_to_disk = dump_to_disk

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
print("localstripe listening on http://127.0.0.1:%d" % port, flush=True)
web.run_app(server.app, sock=sock, print=None, access_log=None)
