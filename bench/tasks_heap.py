"""Write a snapshot of an asyncio program holding N pending tasks in one
list (and N more in one set), for bench/tasks.sh: `asyncsnap tasks` and
`diff` look up, per task, the reference its container holds. With
--list-only, the N tasks in the list are all there is.

    PYTHONPATH=build/snapshot-agent python3 bench/tasks_heap.py DIR N [--list-only]
"""

import asyncio
import os
import sys

import asyncsnap


async def wait(event):
    await event.wait()


async def main(directory, n, list_only):
    event = asyncio.Event()
    in_list = [asyncio.create_task(wait(event)) for _ in range(n)]
    in_set = set() if list_only else {asyncio.create_task(wait(event)) for _ in range(n)}
    await asyncio.sleep(0)
    name = "tasks-%d%s.snap" % (n, "-list" if list_only else "")
    print(asyncsnap.take(os.path.join(directory, name)))
    event.set()
    await asyncio.gather(*in_list, *in_set)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["--list-only"]):
        sys.exit(__doc__.split("\n\n")[1].strip())
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["--list-only"]))
