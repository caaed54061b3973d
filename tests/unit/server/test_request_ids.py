"""Request ids made by the server: unique, 32 hex digits, a fresh prefix in a forked child."""

from __future__ import annotations

import os

from shipline.server.request_input import new_request_id


def test_ids_are_unique_hex_and_a_forked_child_gets_its_own_prefix() -> None:
    made = [new_request_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)
    assert len({i[:16] for i in made}) == 1  # one prefix per process
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child writes its first id and leaves at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    theirs = os.read(read, 64).decode()
    os.close(read)
    assert status == 0 and len(theirs) == 32
    assert theirs[:16] != made[0][:16]
