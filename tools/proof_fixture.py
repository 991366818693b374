#!/usr/bin/env python3
"""A synthetic draw proof in exactly the server's format (docs: the README's "Verify a draw
yourself"; issue 17), for the verifier's tests and the browser benchmark. Standard library only.

    python3 tools/proof_fixture.py OUT_DIR --tickets N [--early E] [--drop-id ID] [--seed-from S]
                                   [--tamper KIND]

writes a static tree that a plain file server can serve as the API:

    OUT_DIR/drops/<id>/queue/proof/manifest.json   served as GET /drops/<id>/queue/proof
    OUT_DIR/drops/<id>/queue/proof/<e|m>-<xx>      served as GET /drops/<id>/queue/proof/<name>

(`proof` is both a document and a folder of pages in the API, so the file server answers a
folder with its manifest.json), and prints one JSON line: the drop id, tickets, pages and bytes.

The draw rule is written out again here rather than imported from verify_draw.py on purpose:
this file plays the server, and a verifier tested against its own copy of the rule would agree
with any mistake in it.

--tamper breaks the proof in one way while keeping everything else consistent (page digests,
counts, sizes recomputed), so that exactly one check of the verifier must fail: see TAMPERS.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

SECTIONS = (("early", "e"), ("cohort", "m"))


def draw_key(seed: bytes, ticket_id: str) -> bytes:
    return hmac.digest(seed, ticket_id.encode(), "sha256")


@dataclass
class Proof:
    drop_id: str
    seed: str
    seed_commitment: str
    # Per section ("early", "cohort"): page name -> ticket ids in position order.
    pages: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Overrides of what the manifest states (a tampered count or size); None = the true figure.
    stated_counts: dict[str, int] = field(default_factory=dict)
    stated_sizes: dict[str, int] = field(default_factory=dict)
    stated_digests: dict[str, str] = field(default_factory=dict)

    def body(self, name: str) -> bytes:
        section = "early" if name.startswith("e-") else "cohort"
        return "".join(f"{ticket}\n" for ticket in self.pages[section][name]).encode()

    def size(self, section: str) -> int:
        return sum(len(ids) for ids in self.pages[section].values())

    def manifest(self) -> dict:
        early_size = self.stated_sizes.get("early", self.size("early"))
        starts = {"early": 1, "cohort": early_size + 1}
        document: dict = {"drop_id": self.drop_id, "seed": self.seed, "seed_commitment": self.seed_commitment}
        for section, _ in SECTIONS:
            pages = []
            for name in sorted(self.pages[section]):
                body = self.body(name)
                pages.append(
                    {
                        "name": name,
                        "url": f"/drops/{self.drop_id}/queue/proof/{name}",
                        "count": self.stated_counts.get(name, len(self.pages[section][name])),
                        "sha256": self.stated_digests.get(name, hashlib.sha256(body).hexdigest()),
                    }
                )
            document[section] = {
                "start": starts[section],
                "size": self.stated_sizes.get(section, self.size(section)),
                "pages": pages,
            }
        return document


def paginate(seed: bytes, letter: str, ticket_ids: list[str]) -> dict[str, list[str]]:
    """Position order = ascending (draw key, id); a page holds the ids whose key starts with xx."""
    pages: dict[str, list[str]] = {}
    for key, ticket in sorted((draw_key(seed, ticket), ticket) for ticket in ticket_ids):
        pages.setdefault(f"{letter}-{key[0]:02x}", []).append(ticket)
    return pages


def build(drop_id: str, seed_hex: str, early: list[str], cohort: list[str]) -> Proof:
    seed = bytes.fromhex(seed_hex)
    proof = Proof(drop_id, seed_hex, hashlib.sha256(seed).hexdigest())
    proof.pages = {"early": paginate(seed, "e", early), "cohort": paginate(seed, "m", cohort)}
    return proof


def synthetic(tickets: int, early: int = 0, seed_from: int = 17) -> Proof:
    """`tickets` random ticket ids (the first `early` of them in the early section)."""
    rng = random.Random(seed_from)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(tickets)]
    return build(f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(256):064x}", ids[:early], ids[early:])


def _largest(proof: Proof, section: str) -> str:
    return max(proof.pages[section], key=lambda name: len(proof.pages[section][name]))


def tamper_seed(proof: Proof) -> None:
    """Another seed than the committed one."""
    proof.seed = f"{int(proof.seed, 16) ^ 1:064x}"


def tamper_swap(proof: Proof) -> None:
    """Two neighbours in a page change places (the page's digest recomputed)."""
    ids = proof.pages["cohort"][_largest(proof, "cohort")]
    ids[1], ids[2] = ids[2], ids[1]


def tamper_sha(proof: Proof) -> None:
    """The manifest states another digest for a page."""
    name = _largest(proof, "cohort")
    digest = hashlib.sha256(proof.body(name)).hexdigest()
    proof.stated_digests[name] = ("0" if digest[0] != "0" else "1") + digest[1:]


def tamper_prefix(proof: Proof) -> None:
    """A page's last ticket is the next page's first: still ascending, in the wrong page."""
    names = sorted(proof.pages["cohort"])
    moved = proof.pages["cohort"][names[1]].pop(0)
    proof.pages["cohort"][names[0]].append(moved)


def tamper_duplicate(proof: Proof) -> None:
    """A cohort ticket is also in the early section, at its place in draw order there."""
    seed = bytes.fromhex(proof.seed)
    ticket = proof.pages["cohort"][_largest(proof, "cohort")][0]
    name = f"e-{draw_key(seed, ticket)[0]:02x}"
    ids = proof.pages["early"].setdefault(name, []) + [ticket]
    ids.sort(key=lambda t: (draw_key(seed, t), t))
    proof.pages["early"][name] = ids


def tamper_count(proof: Proof) -> None:
    """A page's count is one more than its lines (and the section's size agrees with it)."""
    name = _largest(proof, "cohort")
    proof.stated_counts[name] = len(proof.pages["cohort"][name]) + 1
    proof.stated_sizes["cohort"] = proof.size("cohort") + 1


def tamper_size(proof: Proof) -> None:
    """The cohort's size is one more than its pages hold."""
    proof.stated_sizes["cohort"] = proof.size("cohort") + 1


TAMPERS = {
    "seed": tamper_seed,
    "swap": tamper_swap,
    "sha": tamper_sha,
    "prefix": tamper_prefix,
    "duplicate": tamper_duplicate,
    "count": tamper_count,
    "size": tamper_size,
}


def write(proof: Proof, out: Path) -> dict:
    """Writes the static tree; returns its figures (bytes = the pages' bodies, as served)."""
    folder = out / "drops" / proof.drop_id / "queue" / "proof"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps(proof.manifest()).encode()
    (folder / "manifest.json").write_bytes(manifest)
    page_bytes = pages = 0
    for section, _ in SECTIONS:
        for name in proof.pages[section]:
            body = proof.body(name)
            (folder / name).write_bytes(body)
            page_bytes += len(body)
            pages += 1
    return {
        "drop_id": proof.drop_id,
        "tickets": proof.size("early") + proof.size("cohort"),
        "pages": pages,
        "page_bytes": page_bytes,
        "manifest_bytes": len(manifest),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic draw proof (manifest + pages) as static files.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--tickets", type=int, required=True, help="tickets in the draw, both sections")
    parser.add_argument("--early", type=int, default=0, help="of which in the early-access section")
    parser.add_argument("--seed-from", type=int, default=17, help="the random generator's seed (ids, drop id, draw seed)")
    parser.add_argument("--tamper", choices=sorted(TAMPERS), help="break the proof in this one way")
    args = parser.parse_args()
    if not 0 <= args.early <= args.tickets or args.tickets < 3:
        parser.error("need 3 or more tickets and 0 <= --early <= --tickets")
    proof = synthetic(args.tickets, args.early, args.seed_from)
    if args.tamper:
        TAMPERS[args.tamper](proof)
    json.dump(write(proof, args.out), sys.stdout)
    print()


if __name__ == "__main__":
    main()
