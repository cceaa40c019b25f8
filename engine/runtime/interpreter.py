"""The interpreter settings of a long-running process: ``serve``, and the intake and
delivery processes it starts.

Start-up builds most of what such a process ever holds: modules, compiled mappings and
schemas, clients, metrics. CPython's cyclic collector walks every tracked object of a
generation at each of its collections; the oldest generation, holding all of that, is
walked again and again while the process serves, though none of it ever becomes garbage.
And mapping or delivering a request creates and frees thousands of small containers, so
the youngest generation's default threshold (700 allocations) triggers a collection every
few actions.

A server process also runs two busy threads: the event loop (HTTP, delivery) and the group
committer (mapping, queueing). While both want the interpreter lock, CPython makes the one
holding it hand it over every 5 ms (the switch interval); each forced hand-over costs a
wake-up of the other thread and both their caches.

``settle_interpreter`` runs once start-up is done: it collects what start-up left, moves
every object still alive to the permanent generation (``gc.freeze``: never walked again,
which also spares the pages of a process that forks its workers after it from being
copied by the children's collections), raises the youngest generation's threshold, so a
collection walks more objects less often, and lengthens the switch interval. Objects
cannot be lost this way: frozen ones are only never collected; a cycle that start-up made
and that becomes garbage later stays (start-up objects live as long as the process
anyway). What the process creates later is collected as usual. A thread that waits for
I/O (a socket, SQLite) gives the lock up at once, whatever the interval.
"""

from __future__ import annotations

import gc
import sys

#: Allocations (minus frees) of tracked containers between collections of the youngest
#: generation; CPython's default is 700. The older generations keep their defaults.
YOUNG_THRESHOLD = 5_000
#: Seconds a thread may hold the interpreter lock while another wants it; CPython's
#: default is 0.005.
SWITCH_INTERVAL = 0.02


def settle_interpreter() -> None:
    """Collect start-up's garbage, freeze what is left, raise the young threshold and
    lengthen the switch interval."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    sys.setswitchinterval(SWITCH_INTERVAL)
