#!/usr/bin/env python3
"""Verify a Burst waiting room's draw yourself, from its published proof. Python 3.11+, standard
library only: download this one file and run

    python3 verify_draw.py API DROP_ID [--ticket TICKET_ID] [--commitment HEX]

API is the API's base URL (as the storefront's config.js names it), DROP_ID the drop's id. It
reads the manifest GET {API}/drops/{DROP_ID}/queue/proof, then streams its pages one by one
(a few downloads ahead; memory holds a few pages and the last key, never the whole draw) and
checks, failing on the first problem with the page and the check named:

1. SHA-256(seed bytes) == seed_commitment (and == --commitment, the one you saw before the draw:
   GET /drops/{id}/queue answers it from the moment the queue opens);
2. every page's body has the manifest's SHA-256 and `count` lines, each a ticket id (32 lowercase
   hex) whose draw key starts with the page's two hex chars (page "m-3f": keys 3f…);
3. within a section the pages' concatenation is in strictly ascending (draw key, ticket id) order,
   and the section's pages add up to its size;
4. no ticket is in both sections, and positions run 1..E (early access) then E+1..E+C (cohort):
   the i-th ticket (from 0) of a section is at position start + i.

A ticket's draw key is the lowercase hex HMAC-SHA256 keyed with the seed's 32 bytes over the
ticket id's UTF-8 bytes. With --ticket it also prints your ticket's position.
Exit status: 0 verified, 1 a check failed (or the proof could not be read), 2 usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

LINE = 33  # a ticket id's 32 hex chars and "\n"
HEX64 = re.compile(r"[0-9a-f]{64}")
PAGE_NAME = re.compile(r"(?P<letter>[em])-(?P<prefix>[0-9a-f]{2})")
PAGE_BODY = re.compile(rb"(?:[0-9a-f]{32}\n)*")
SECTIONS = (("early", "e"), ("cohort", "m"))
DOWNLOADS_AHEAD = 4


class ProofError(Exception):
    """A check failed: the message names the page (if any) and the check."""


@dataclass
class Report:
    early: int
    cohort: int
    pages: int
    commitment: str
    # The --ticket's position, or None when it is in neither section (or none was asked).
    position: int | None


class DrawKeys:
    """HMAC-SHA256 keyed with the seed, the padded key states hashed once (RFC 2104), so each
    ticket costs two SHA-256 blocks and no key setup."""

    def __init__(self, seed: bytes):
        block = seed.ljust(64, b"\0")  # a 32-byte key is padded, never hashed
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, ticket_id: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(ticket_id)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@dataclass
class Section:
    name: str
    start: int
    size: int
    pages: list[dict]
    # Streaming state: tickets checked so far and the last (key, id), for the order across pages.
    checked: int = 0
    last: tuple[bytes, bytes] | None = None


def _field(document: dict, name: str, kind: type, where: str):
    value = document.get(name) if isinstance(document, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProofError(f"{where}: `{name}` is missing or not a {kind.__name__}")
    return value


def read_sections(manifest: dict) -> list[Section]:
    """The manifest's structure: sections that number 1..E then E+1..E+C, pages named
    `<e|m>-<xx>` ascending, counts that add up to each section's size."""
    sections = []
    for name, letter in SECTIONS:
        document = _field(manifest, name, dict, "manifest")
        section = Section(
            name,
            _field(document, "start", int, f"manifest {name}"),
            _field(document, "size", int, f"manifest {name}"),
            _field(document, "pages", list, f"manifest {name}"),
        )
        previous = ""
        for page in section.pages:
            page_name = _field(page, "name", str, f"manifest {name} page")
            match = PAGE_NAME.fullmatch(page_name)
            if not match or match["letter"] != letter:
                raise ProofError(f"manifest {name}: page name {page_name!r} is not {letter}-<two lowercase hex>")
            if page_name <= previous:
                raise ProofError(f"manifest {name}: page {page_name} is not after {previous} (pages ascend by name)")
            previous = page_name
            _field(page, "url", str, f"page {page_name}")
            if _field(page, "count", int, f"page {page_name}") < 1:
                raise ProofError(f"page {page_name}: count {page['count']} (only non-empty pages are listed)")
            if not HEX64.fullmatch(_field(page, "sha256", str, f"page {page_name}")):
                raise ProofError(f"page {page_name}: sha256 is not 64 lowercase hex")
        counted = sum(page["count"] for page in section.pages)
        if counted != section.size:
            raise ProofError(f"{name} section: its pages hold {counted} tickets, its size is {section.size}")
        sections.append(section)
    early, cohort = sections
    if early.start != 1:
        raise ProofError(f"early section: starts at position {early.start}, not 1")
    if cohort.start != early.size + 1:
        raise ProofError(f"cohort section: starts at position {cohort.start}, not {early.size + 1} (after the early section)")
    return sections


def check_page(section: Section, page: dict, body: bytes, keys: DrawKeys, early_twin: set[bytes] | None, ticket: bytes | None) -> int | None:
    """Checks one page against the manifest and continues its section's order; returns the
    --ticket's position if it is in this page."""
    name = page["name"]
    digest = hashlib.sha256(body).hexdigest()
    if digest != page["sha256"]:
        raise ProofError(f"page {name}: SHA-256 of the body is {digest}, the manifest says {page['sha256']}")
    if len(body) != LINE * page["count"]:
        raise ProofError(f"page {name}: {len(body)} bytes, the manifest's count {page['count']} needs {LINE * page['count']} (33 per line)")
    if not PAGE_BODY.fullmatch(body):
        bad = next(i for i in range(page["count"]) if not PAGE_BODY.fullmatch(body[i * LINE : (i + 1) * LINE]))
        raise ProofError(f"page {name}, line {bad + 1}: not a ticket id (32 lowercase hex and a newline)")
    prefix = int(name[2:], 16)
    position = None
    for i in range(page["count"]):
        ticket_id = body[i * LINE : i * LINE + 32]
        key = keys(ticket_id)
        where = f"page {name}, line {i + 1} (position {section.start + section.checked})"
        if key[0] != prefix:
            raise ProofError(f"{where}: ticket {ticket_id.decode()} has draw key {key.hex()[:8]}…, which does not start with {name[2:]}")
        if section.last is not None and (key, ticket_id) <= section.last:
            raise ProofError(
                f"{where}: ticket {ticket_id.decode()} (draw key {key.hex()[:16]}…) is not after the previous ticket "
                f"{section.last[1].decode()} (draw key {section.last[0].hex()[:16]}…): the order is not the draw's"
            )
        if early_twin is not None and ticket_id in early_twin:
            raise ProofError(f"{where}: ticket {ticket_id.decode()} is also in the early section (page e-{name[2:]})")
        if ticket_id == ticket:
            position = section.start + section.checked
        section.last = (key, ticket_id)
        section.checked += 1
    return position


def verify(manifest: dict, fetch: Callable[[dict], bytes], ticket: str | None = None, commitment: str | None = None, progress: Callable[[int, int, int], None] | None = None) -> Report:
    """Checks the whole proof; `fetch(page)` returns a page's body. Raises ProofError."""
    seed_hex = _field(manifest, "seed", str, "manifest")
    published = _field(manifest, "seed_commitment", str, "manifest")
    if not HEX64.fullmatch(seed_hex):
        raise ProofError("manifest: the seed is not 64 lowercase hex")
    seed = bytes.fromhex(seed_hex)
    computed = hashlib.sha256(seed).hexdigest()
    if computed != published:
        raise ProofError(f"seed commitment: SHA-256(seed) is {computed}, the manifest's seed_commitment is {published}")
    if commitment is not None and commitment.lower() != published:
        raise ProofError(f"seed commitment: the manifest's is {published}, not the {commitment} you saw before the draw")
    early, cohort = read_sections(manifest)
    # Prefix by prefix, the early page before the cohort's: a ticket in both sections has one
    # draw key, so it sits in e-xx and m-xx of the same xx, and one early page is all that
    # needs remembering to find it. Each section keeps its own page order.
    plan = sorted(
        [(page["name"][2:], 0, early, page) for page in early.pages] + [(page["name"][2:], 1, cohort, page) for page in cohort.pages],
        key=lambda step: step[:2],
    )
    keys = DrawKeys(seed)
    wanted = ticket.encode() if ticket else None
    position = None
    early_page: tuple[str, set[bytes]] | None = None
    for done, ((prefix, _, section, page), body) in enumerate(zip(plan, _ahead(fetch, (step[3] for step in plan))), 1):
        twin = early_page[1] if section is cohort and early_page and early_page[0] == prefix else None
        found = check_page(section, page, body, keys, twin, wanted)
        position = found if found is not None else position
        if section is early:
            early_page = (prefix, {body[i : i + 32] for i in range(0, len(body), LINE)})
        if progress:
            progress(done, len(plan), early.checked + cohort.checked)
    return Report(early.size, cohort.size, len(plan), published, position)


def _ahead(fetch: Callable[[dict], bytes], pages: Iterable[dict]) -> Iterable[bytes]:
    """The pages' bodies in order, with up to DOWNLOADS_AHEAD downloads in flight."""
    with ThreadPoolExecutor(DOWNLOADS_AHEAD) as pool:
        pending: deque[Future[bytes]] = deque()
        for page in pages:
            pending.append(pool.submit(fetch, page))
            if len(pending) >= DOWNLOADS_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _get(url: str, what: str) -> bytes:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"accept": "application/json, text/plain"}), timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            problem = json.loads(body)["error"]
            detail = f"{problem['code']}: {problem['message']}"
        except (ValueError, KeyError, TypeError):
            detail = " ".join(body[:300].decode(errors="replace").split())[:120] or "no body"
        raise ProofError(f"{what}: the API answered {error.code} ({detail})") from None
    except (urllib.error.URLError, OSError) as error:
        raise ProofError(f"{what}: cannot read {url}: {error}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Burst drop's draw from its published proof (GET /drops/{id}/queue/proof).")
    parser.add_argument("api", help="the API's base URL, e.g. https://api.example.com")
    parser.add_argument("drop_id")
    parser.add_argument("--ticket", help="your ticket id (GET /drops/{id}/queue/me): prints its position")
    parser.add_argument("--commitment", help="the seed commitment you saw before the draw: must be the manifest's")
    args = parser.parse_args(argv)
    api = args.api.rstrip("/")

    def progress(done: int, pages: int, tickets: int) -> None:
        print(f"\r{done}/{pages} pages, {tickets:,} tickets checked", end="", file=sys.stderr, flush=True)

    try:
        body = _get(f"{api}/drops/{args.drop_id}/queue/proof", "manifest")
        try:
            manifest = json.loads(body)
        except ValueError:
            raise ProofError("manifest: not JSON") from None
        if manifest.get("drop_id") != args.drop_id:
            raise ProofError(f"manifest: it is drop {manifest.get('drop_id')!r}'s proof, not {args.drop_id!r}'s")
        report = verify(
            manifest,
            lambda page: _get(api + page["url"], f"page {page['name']}"),
            ticket=args.ticket,
            commitment=args.commitment,
            progress=progress if sys.stderr.isatty() else None,
        )
    except ProofError as error:
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"NOT VERIFIED — {error}", file=sys.stderr)
        return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"draw verified: {report.early + report.cohort:,} tickets ({report.early:,} early access, {report.cohort:,} cohort) in {report.pages} pages")
    print(f"seed commitment {report.commitment}" + (" = the one you gave" if args.commitment else ": compare it with the one published before the draw"))
    if args.ticket:
        if report.position is None:
            print(f"your ticket {args.ticket} is not in the draw (it joined after the draw, or is another drop's)")
        else:
            print(f"your ticket {args.ticket} is at position {report.position:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
