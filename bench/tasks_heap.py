"""Write a snapshot of an asyncio program holding N pending tasks in one
list (and N more in one set), for bench/tasks.sh: `asyncsnap tasks` and
`diff` look up, per task, the reference its container holds.

    PYTHONPATH=build/snapshot-agent python3 bench/tasks_heap.py DIR N
"""

import asyncio
import os
import sys

import asyncsnap


async def wait(event):
    await event.wait()


async def main(directory, n):
    event = asyncio.Event()
    in_list = [asyncio.create_task(wait(event)) for _ in range(n)]
    in_set = {asyncio.create_task(wait(event)) for _ in range(n)}
    await asyncio.sleep(0)
    print(asyncsnap.take(os.path.join(directory, "tasks-%d.snap" % n)))
    event.set()
    await asyncio.gather(*in_list, *in_set)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
