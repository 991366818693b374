"""tools/verify_draw.py against synthetic proofs in the server's format (tools/proof_fixture.py):
a true proof verifies and numbers every ticket; each way of breaking one fails on its own check.
Run: python3 -m unittest discover -s tools -p 'test_*.py'"""

import contextlib
import hashlib
import http.server
import io
import json
import tempfile
import threading
import unittest
from functools import partial
from pathlib import Path

import proof_fixture
import verify_draw

TICKETS, EARLY = 3000, 400


def run(proof: proof_fixture.Proof, ticket: str | None = None) -> verify_draw.Report:
    fetched = []

    def fetch(page: dict) -> bytes:
        fetched.append(page["name"])
        return proof.body(page["name"])

    report = verify_draw.verify(json.loads(json.dumps(proof.manifest())), fetch, ticket=ticket)
    assert len(fetched) == len(set(fetched)), "a page was fetched twice"
    return report


def in_order(proof: proof_fixture.Proof, section: str) -> list[str]:
    return [ticket for name in sorted(proof.pages[section]) for ticket in proof.pages[section][name]]


class TrueProof(unittest.TestCase):
    def test_draw_keys_are_hmac_sha256(self):
        # RFC 4231, test case 2 (a short key is zero-padded like the seed's 32 bytes).
        keys = verify_draw.DrawKeys(b"Jefe")
        self.assertEqual(keys(b"what do ya want for nothing?").hex(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")

    def test_a_true_proof_verifies_and_numbers_both_sections(self):
        proof = proof_fixture.synthetic(TICKETS, EARLY)
        report = run(proof)
        self.assertEqual((report.early, report.cohort), (EARLY, TICKETS - EARLY))
        self.assertEqual(report.pages, len(proof.pages["early"]) + len(proof.pages["cohort"]))
        early, cohort = in_order(proof, "early"), in_order(proof, "cohort")
        self.assertEqual(run(proof, early[0]).position, 1)
        self.assertEqual(run(proof, early[-1]).position, EARLY)
        self.assertEqual(run(proof, cohort[0]).position, EARLY + 1)
        self.assertEqual(run(proof, cohort[1234]).position, EARLY + 1235)
        self.assertIsNone(run(proof, "f" * 32).position)

    def test_a_draw_without_early_access_verifies(self):
        proof = proof_fixture.synthetic(500)
        self.assertEqual(proof.manifest()["early"], {"start": 1, "size": 0, "pages": []})
        self.assertEqual(run(proof, in_order(proof, "cohort")[0]).position, 1)

    def test_the_fixture_is_the_documented_format(self):
        proof = proof_fixture.synthetic(TICKETS, EARLY)
        manifest = proof.manifest()
        seed = bytes.fromhex(manifest["seed"])
        self.assertEqual(manifest["seed_commitment"], hashlib.sha256(seed).hexdigest())
        self.assertEqual(manifest["cohort"]["start"], EARLY + 1)
        page = manifest["cohort"]["pages"][0]
        body = proof.body(page["name"])
        self.assertEqual(page["url"], f"/drops/{proof.drop_id}/queue/proof/{page['name']}")
        self.assertEqual(len(body), 33 * page["count"])
        self.assertEqual(page["sha256"], hashlib.sha256(body).hexdigest())


class BrokenProof(unittest.TestCase):
    def fails(self, tamper: str, *fragments: str) -> str:
        proof = proof_fixture.synthetic(TICKETS, EARLY)
        proof_fixture.TAMPERS[tamper](proof)
        with self.assertRaises(verify_draw.ProofError) as caught:
            run(proof)
        message = str(caught.exception)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message

    def test_a_seed_other_than_the_committed_one_fails_the_commitment(self):
        self.fails("seed", "seed commitment: SHA-256(seed) is")

    def test_swapped_neighbours_fail_the_order_naming_page_and_line(self):
        message = self.fails("swap", "line 3", "is not after the previous ticket")
        self.assertRegex(message, r"^page m-[0-9a-f]{2}, line 3 \(position \d+\)")

    def test_a_page_whose_digest_differs_fails_naming_it(self):
        self.assertRegex(self.fails("sha", "SHA-256 of the body is"), r"^page m-[0-9a-f]{2}: ")

    def test_a_ticket_in_the_wrong_page_fails_the_prefix(self):
        self.fails("prefix", "which does not start with")

    def test_a_ticket_in_both_sections_fails(self):
        self.fails("duplicate", "is also in the early section")

    def test_a_page_count_other_than_its_lines_fails(self):
        self.fails("count", "the manifest's count")

    def test_a_section_size_other_than_its_pages_fails(self):
        self.fails("size", "cohort section: its pages hold")

    def test_a_cohort_not_numbered_after_the_early_section_fails(self):
        proof = proof_fixture.synthetic(TICKETS, EARLY)
        manifest = proof.manifest()
        manifest["cohort"]["start"] += 1
        with self.assertRaisesRegex(verify_draw.ProofError, "cohort section: starts at position"):
            verify_draw.verify(manifest, lambda page: proof.body(page["name"]))

    def test_a_commitment_other_than_the_one_seen_before_the_draw_fails(self):
        proof = proof_fixture.synthetic(500)
        with self.assertRaisesRegex(verify_draw.ProofError, "you saw before the draw"):
            verify_draw.verify(proof.manifest(), lambda page: proof.body(page["name"]), commitment="0" * 64)


class StaticApi(http.server.SimpleHTTPRequestHandler):
    """The fixture tree as the API: a folder answers with its manifest.json; a drop id of all
    zeros answers 409 draw_pending like the API before the draw."""

    def do_GET(self):
        if "/drops/" + "0" * 32 in self.path:
            body = json.dumps({"error": {"code": "draw_pending", "message": "the draw has not happened yet"}}).encode()
            self.send_response(409)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            self.path = self.path.rstrip("/") + "/manifest.json"
        super().do_GET()

    def log_message(self, *args):
        pass


class CommandLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        cls.proof = proof_fixture.synthetic(TICKETS, EARLY)
        proof_fixture.write(cls.proof, Path(cls.folder.name))
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(StaticApi, directory=cls.folder.name))
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.api = f"http://127.0.0.1:{cls.server.server_address[1]}/"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.folder.cleanup()

    def main(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = verify_draw.main(list(args))
        return status, out.getvalue(), err.getvalue()

    def test_verifies_over_http_and_prints_the_tickets_position(self):
        ticket = in_order(self.proof, "cohort")[99]
        status, out, _ = self.main(self.api, self.proof.drop_id, "--ticket", ticket)
        self.assertEqual(status, 0)
        self.assertIn(f"draw verified: {TICKETS:,} tickets ({EARLY} early access", out)
        self.assertIn(f"your ticket {ticket} is at position {EARLY + 100}", out)

    def test_a_draw_not_yet_made_exits_1_with_the_apis_answer(self):
        status, out, err = self.main(self.api, "0" * 32)
        self.assertEqual((status, out), (1, ""))
        self.assertIn("manifest: the API answered 409 (draw_pending: the draw has not happened yet)", err)

    def test_a_missing_page_exits_1_naming_it(self):
        page = self.proof.manifest()["cohort"]["pages"][5]["name"]
        path = Path(self.folder.name, "drops", self.proof.drop_id, "queue", "proof", page)
        body = path.read_bytes()
        path.unlink()
        try:
            status, _, err = self.main(self.api, self.proof.drop_id)
        finally:
            path.write_bytes(body)
        self.assertEqual(status, 1)
        self.assertIn(f"page {page}: the API answered 404", err)


if __name__ == "__main__":
    unittest.main()
