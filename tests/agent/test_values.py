"""A default snapshot holds no value the program computed: the numbers its
objects hold, the names it gave its tasks, the values of its str Enums are
left out unless values=True (docs/AGENT.md, "What a snapshot holds")."""

import asyncio
import enum
import re
import struct

import asyncsnap

from support import TempDirTest, dump, zstd_decompress


class Tier(str, enum.Enum):
    # an identifier-like literal: interned, the kind of str a dict key
    # becomes a label for
    PLATINUM = "zq7vault_tier_platinum"


class Account:
    def __init__(self, card, balance):
        self.card = card          # in the instance's __dict__ (or values)
        self.balance = balance
        self.closed = False
        self.note = None


class Card:
    __slots__ = ("number", "pin", "active")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(n):
    return ((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF


def int_forms(n):
    """Every way the file could hold n: decimal text, 8 bytes little
    endian, and the format's INT value (tag 0x02, zigzag varint); for a
    large n also a bare varint, plain or zigzag (for a small one those few
    bytes occur by chance)."""
    forms = [str(n).encode(), struct.pack("<q", n), b"\x02" + varint(zigzag(n))]
    if n >= 1 << 32:
        forms += [varint(n), varint(zigzag(n))]
    return forms


def float_forms(x):
    """Decimal text, the raw double, and the format's FLOAT value (0x03)."""
    return [repr(x).encode(), struct.pack("<d", x), b"\x03" + struct.pack("<d", x)]


def hashed(name):
    return "name#%016x" % (hash(name) & 0xFFFFFFFFFFFFFFFF)


def attrs_of(by, obj):
    return by[id(obj)].get("attrs", {})


def task_of(by, task):
    return by[id(task)]["task"]


class ValuesTest(TempDirTest):
    def setUp(self):
        super().setUp()
        # computed, never constants of this file
        self.card_number = int("4539" + "1488" + "0343" + "6467")
        self.pin = int("73" + "19" + "46")
        self.balance = int("123456789") / 100
        self.email = "alice.smith" + "@" + "example.org"
        self.task_name = "session-" + self.email

        self.account = Account(self.card_number, self.balance)
        self.card = Card()
        self.card.number = self.card_number + 1
        self.card.pin = self.pin
        self.card.active = True
        # a small int: CPython's shared object, whose address tells its value
        self.account.digit = int("7")
        self.tier = Tier.PLATINUM

    def take_all(self):
        """Two default snapshots and one with values, with a named task, an
        unnamed one and a timer armed with call_at(an int) pending."""
        out = {}

        async def main():
            loop = asyncio.get_running_loop()
            named = asyncio.ensure_future(asyncio.sleep(3600))
            named.set_name(self.task_name)
            plain = asyncio.ensure_future(asyncio.sleep(3600))
            timer = loop.call_at(int(loop.time()) + 7200, print)
            await asyncio.sleep(0)
            out.update(named=named, plain=plain, timer=timer)
            out["default"] = asyncsnap.take(self.path("d.snap"), fsync=False)
            out["again"] = asyncsnap.take(self.path("a.snap"), fsync=False)
            out["values"] = asyncsnap.take(self.path("v.snap"), values=True, fsync=False)
            for t in (named, plain):
                t.cancel()
            timer.cancel()

        asyncio.run(main())
        return out

    def secret_forms(self):
        return {
            "card number (__dict__)": int_forms(self.card_number),
            "card number (__slots__)": int_forms(self.card_number + 1),
            "PIN (__slots__)": int_forms(self.pin),
            "balance": float_forms(self.balance),
            "email": [self.email.encode()],
            "task name": [self.task_name.encode()],
            "str Enum value": [Tier.PLATINUM.value.encode()],
        }

    def test_default_snapshot_holds_none_of_the_programs_values(self):
        out = self.take_all()
        body = zstd_decompress(out["default"])
        for what, forms in self.secret_forms().items():
            for form in forms:
                self.assertNotIn(form, body, "%s found as %r" % (what, form))

        by = {int(n["addr"], 16): n for n in dump(out["default"])}
        # None and booleans stay: the resource rules test them
        self.assertEqual(attrs_of(by, self.account), {"closed": False, "note": None})
        self.assertEqual(attrs_of(by, self.card), {"active": True})
        # the program's task name as its keyed hash; asyncio's own verbatim
        self.assertEqual(task_of(by, out["named"])["name"], hashed(self.task_name))
        self.assertRegex(task_of(by, out["plain"])["name"], r"^Task-\d+$")
        # the Enum's value -> member map keys its member by "value"
        value_map = by[id(Tier._value2member_map_)]
        labels = [e.get("label") for e in value_map["edges"] if int(e["to"], 16) == id(self.tier)]
        self.assertEqual(labels, ["value"])
        # the shared small int is there, but not at its address
        digit = [int(e["to"], 16) for e in by[id(self.account)]["edges"]
                 if e.get("label") == "digit"]
        if not digit:  # 3.9/3.10: in the instance's __dict__
            d = [int(e["to"], 16) for e in by[id(self.account)]["edges"]
                 if e.get("label") == "__dict__"][0]
            digit = [int(e["to"], 16) for e in by[d]["edges"] if e.get("label") == "digit"]
        self.assertEqual(len(digit), 1)
        self.assertNotEqual(digit[0], id(7))
        self.assertNotIn(id(7), by)
        self.assertEqual(by[digit[0]]["type"], "builtins.int")
        # the timer's when, an int here, is asyncio state the checks read
        self.assertEqual(attrs_of(by, out["timer"])["_when"], out["timer"].when())

    def test_hashed_task_name_is_the_same_in_every_snapshot_of_the_process(self):
        out = self.take_all()
        names = []
        for snap in ("default", "again"):
            by = {int(n["addr"], 16): n for n in dump(out[snap])}
            names.append(task_of(by, out["named"])["name"])
        self.assertEqual(names[0], names[1])
        self.assertTrue(re.fullmatch(r"name#[0-9a-f]{16}", names[0]), names[0])
        # the analyzer shows it as the task's name
        from support import run_cli
        tasks = run_cli("tasks", "--json", out["again"]).stdout
        self.assertIn(names[0], tasks)
        self.assertNotIn(self.email, tasks)

    def test_values_true_keeps_them(self):
        out = self.take_all()
        body = zstd_decompress(out["values"])
        # the searches above would have found them: each is there
        self.assertIn(b"\x02" + varint(zigzag(self.card_number)), body)
        self.assertIn(b"\x02" + varint(zigzag(self.pin)), body)
        self.assertIn(b"\x03" + struct.pack("<d", self.balance), body)
        self.assertIn(self.email.encode(), body)
        self.assertIn(Tier.PLATINUM.value.encode(), body)

        by = {int(n["addr"], 16): n for n in dump(out["values"])}
        attrs = attrs_of(by, self.account)
        self.assertEqual(attrs["card"], self.card_number)
        self.assertEqual(attrs["balance"], self.balance)
        self.assertEqual(attrs["digit"], 7)
        self.assertIn(id(7), by)
        attrs = attrs_of(by, self.card)
        self.assertEqual((attrs["number"], attrs["pin"]), (self.card_number + 1, self.pin))
        self.assertEqual(task_of(by, out["named"])["name"], self.task_name)
        value_map = by[id(Tier._value2member_map_)]
        labels = [e.get("label") for e in value_map["edges"] if int(e["to"], 16) == id(self.tier)]
        self.assertEqual(labels, [Tier.PLATINUM.value])
