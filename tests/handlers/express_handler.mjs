// A Nango webhook handler written as users write them: Express and @nangohq/node.
// argv: NANGO_HOST, secret key, webhook signing key, mode. Prints its port, then serves
// POST /webhooks and GET /state/:connection/:model (the ids it holds).
//
// Modes: correct; the bugs users make (no-verify, first-page, ignore-deletions,
// swallow-errors); and legitimate designs that must pass like `correct`
// (resume-cursor: fetch from the last processed record's _nango_metadata.cursor, as
// Nango's docs advise; retry-inside: retry a failed fetch itself).
import express from 'express';
import { Nango } from '@nangohq/node';

const [host, secretKey, webhookSigningKey, mode = 'correct'] = process.argv.slice(2);
const nango = new Nango({ host, secretKey, webhookSigningKey });
const held = new Map(); // "connection\u0000model" -> Map(id -> record)
const cursors = new Map(); // the same key -> the cursor of the last record processed

const keyOf = (connectionId, model) => `${connectionId}\u0000${model}`;

async function fetchChanges(body) {
  const key = keyOf(body.connectionId, body.model);
  const mine = held.get(key) ?? new Map();
  held.set(key, mine);
  const resume = mode === 'resume-cursor' ? cursors.get(key) : undefined;
  let cursor = resume;
  do {
    const page = await nango.listRecords({
      connectionId: body.connectionId,
      providerConfigKey: body.providerConfigKey,
      model: body.model,
      limit: 100,
      cursor,
      ...(resume ? {} : { modifiedAfter: body.modifiedAfter }),
    });
    for (const record of page.records) {
      const meta = record._nango_metadata;
      if (meta.deleted_at) {
        if (mode !== 'ignore-deletions') mine.delete(String(record.id));
      } else {
        mine.set(String(record.id), record);
      }
      cursors.set(key, meta.cursor);
    }
    cursor = mode === 'first-page' ? undefined : page.next_cursor;
  } while (cursor);
}

const app = express();
app.post('/webhooks', express.raw({ type: '*/*', limit: '5mb' }), async (req, res) => {
  const raw = req.body.toString('utf8');
  if (mode !== 'no-verify' && !nango.verifyIncomingWebhookRequest(raw, req.headers)) {
    return res.status(401).json({ error: 'invalid signature' });
  }
  const body = JSON.parse(raw);
  if (body.type === 'auth' && body.operation === 'deletion') {
    for (const key of [...held.keys()]) {
      if (key.startsWith(`${body.connectionId}\u0000`)) {
        held.delete(key);
        cursors.delete(key);
      }
    }
    return res.json({ ok: true });
  }
  if (body.type !== 'sync' || body.success !== true) return res.json({ ok: true });
  const tries = mode === 'retry-inside' ? 3 : 1;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await fetchChanges(body);
      return res.json({ ok: true });
    } catch (error) {
      if (attempt < tries) continue;
      if (mode === 'swallow-errors') return res.json({ ok: true });
      const status = error.response?.status ?? error.message;
      return res.status(500).json({ error: `fetch failed: ${status}` });
    }
  }
});
app.get('/state/:connection/:model', (req, res) => {
  const mine = held.get(keyOf(req.params.connection, req.params.model)) ?? new Map();
  res.json([...mine.keys()]);
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
