"""`nango-hooks vectors`: stable, at least 20 cases, and every case judged the same by
nango-hooks, by Node's crypto and by @nangohq/node's verifyIncomingWebhookRequest; the
TypeScript test of docs/vectors.md run against them."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import nango_cli
from tests.conftest import ROOT, jdata, run
from tests.nango_node import run_node

NODE_JUDGE = r"""
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Nango } from '@nangohq/node';
const { cases } = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
for (const c of cases) {
  const body = Buffer.from(c.body_base64, 'base64');
  const header = c.headers['X-Nango-Hmac-Sha256'];
  const byCrypto = typeof header === 'string' && c.keys.some((key) => {
    const mine = crypto.createHmac('sha256', key).update(body).digest('hex');
    return mine.length === header.length &&
      crypto.timingSafeEqual(Buffer.from(mine), Buffer.from(header));
  });
  const bySdk = c.keys.some((key) =>
    new Nango({ secretKey: 'unused', webhookSigningKey: key })
      .verifyIncomingWebhookRequest(body, c.headers));
  const legacy = c.headers['X-Nango-Signature'];
  const legacyOk = typeof legacy === 'string' && c.keys.some((key) =>
    crypto.createHash('sha256').update(Buffer.concat([Buffer.from(key), body]))
      .digest('hex') === legacy);
  out[c.name] = { crypto: byCrypto, sdk: bySdk, legacy: legacyOk };
}
console.log(JSON.stringify(out));
"""


def _vectors(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "vectors.json"
    done = run("vectors", "-o", str(path))
    assert done.returncode == 0, done.stderr
    return path, json.loads(path.read_text())


def test_the_vectors_are_stable_and_cover_the_cases(tmp_path: Path) -> None:
    first, document = _vectors(tmp_path)
    again = run("vectors")
    assert again.stdout.encode() == first.read_bytes()  # the same bytes, run after run
    assert (
        document["version"] == 1 and document["generator"] == f"nango-hooks {nango_cli.__version__}"
    )
    names = [c["name"] for c in document["cases"]]
    assert len(names) >= 20 and len(set(names)) == len(names)
    types = {
        json.loads(c["body"])["type"] for c in document["cases"] if c["name"].startswith("type-")
    }
    assert types == {"sync", "auth", "forward", "async_action"}
    assert {c["valid"] for c in document["cases"]} == {True, False}
    for case in document["cases"]:
        raw = base64.b64decode(case["body_base64"])
        assert case["body"] is None or case["body"].encode() == raw
        assert case["why"]
    wrote = run("vectors", "-o", str(first))
    assert wrote.returncode == 2 and "exists" in wrote.stderr  # nothing overwritten


def test_nango_hooks_judges_every_case_as_it_says(tmp_path: Path) -> None:
    _, document = _vectors(tmp_path)
    for case in document["cases"]:
        body = base64.b64decode(case["body_base64"])
        verdict = nango_cli.verify(body, case["headers"], case["keys"])
        assert verdict.valid is case["valid"], (case["name"], verdict)


def test_node_crypto_and_nangos_sdk_judge_every_case_as_it_says(
    tmp_path: Path, nango_node: Path
) -> None:
    path, document = _vectors(tmp_path)
    judged = json.loads(run_node(nango_node, NODE_JUDGE, str(path)))
    for case in document["cases"]:
        name = case["name"]
        assert judged[name]["crypto"] is case["valid"], name
        assert judged[name]["sdk"] is case["valid"], name
        # the legacy header, where present, is SHA-256(key + body) over the signed bytes
        if case["x_nango_signature"] and case["valid"]:
            assert judged[name]["legacy"] is True, name


def _doc_block(language: str) -> str:
    doc = (ROOT / "docs" / "vectors.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", doc, re.S)[0]


# The TypeScript test of docs/vectors.md, as written, under a stand-in for Vitest's
# test/expect (Vitest itself is not among the packages the tests install).
VITEST_SHIM = r"""
export const expect = (value) => ({
  toBe: (wanted) => { if (value !== wanted) throw new Error(`${value} !== ${wanted}`); },
});
let count = 0;
export const test = {
  each: (rows) => (title, fn) => { for (const row of rows) { fn(row); count += 1; } },
};
process.on('exit', () => console.log(JSON.stringify({ ran: count })));
"""


def test_the_typescript_example_of_the_docs_passes(tmp_path: Path, nango_node: Path) -> None:
    path, document = _vectors(tmp_path)
    code = _doc_block("ts")
    assert "from 'vitest'" in code and "verifyIncomingWebhookRequest" in code
    (nango_node / "vitest-shim.mjs").write_text(VITEST_SHIM)
    script = code.replace("from 'vitest'", "from './vitest-shim.mjs'").replace(
        "'./nango-vectors.json'", json.dumps(str(path))
    )
    # TypeScript's type annotations are the only syntax Node does not take as is.
    script = re.sub(r": (Record<string, string>|string\[\]|string|boolean|any)", "", script)
    out = run_node(nango_node, script)
    assert json.loads(out.strip().splitlines()[-1]) == {"ran": len(document["cases"])}


def test_json_mode_and_the_document(tmp_path: Path) -> None:
    data = jdata(run("--json", "vectors").stdout)
    assert data["format"] == "nango-hooks webhook signature test vectors"
    assert len(data["cases"]) >= 20
