// SPDX-License-Identifier: Apache-2.0
// Test-only: reference token ids from two independent tokenizers.
//   node reference.mjs CORPUS.json OUTDIR [RANDOM_COUNT]
// Writes OUTDIR/texts.jsonl (one JSON string per line: the corpus, then RANDOM_COUNT seeded
// random strings mixing scripts, emoji, digits, punctuation and whitespace runs),
// OUTDIR/llama3.ids and OUTDIR/o200k_harmony.ids (one compact JSON array of ids per line).
// Special tokens in the text are parsed as special tokens by both libraries.
import fs from 'node:fs';
import path from 'node:path';

const [corpusPath, out, randomArg] = process.argv.slice(2);
if (!corpusPath || !out) {
  console.error('usage: node reference.mjs CORPUS.json OUTDIR [RANDOM_COUNT]');
  process.exit(2);
}
const texts = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));

// xorshift32, seeded: the random corpus is the same on every run.
let state = 0x9e3779b9;
const rnd = (n) => {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % n;
};
const pools = [
  'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789',
  ' ', '  ', '\n', '\t', '\r\n', '.,;:!?-_()[]{}<>/\\\'"`~@#$%^&*+=|',
  'éèêëàâäôöûüçñßøåæœ', 'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД', 'αβγδεζηθικλμνξοπρστυφχψω',
  '中文字符测试数据模型语言', 'ひらがなカタカナ漢字', '한국어문장', 'אבגדהוזחטיכלמנסעפצקרשת',
  'ابتثجحخدذرزسشصضطظعغفقكلمنهوي', 'अआइईउऊएऐओऔकखगघ', 'กขคงจฉชซ',
  '😀😃😄😁😆😅🤣😂🙂🙃😉😊🚀🌍🎉👍🏽❤️', "'s", "'t", "'re", "'ll", "'D", ' the', ' of',
];
const randomCount = Number(randomArg ?? 200);
for (let i = 0; i < randomCount; i++) {
  let s = '';
  const len = 1 + rnd(120);
  for (let k = 0; k < len; k++) {
    const pool = Array.from(pools[rnd(pools.length)]);
    const run = 1 + rnd(pool.length === 1 ? 6 : 4);
    for (let r = 0; r < run; r++) s += pool[rnd(pool.length)];
  }
  texts.push(s);
}

const llama = (await import('llama3-tokenizer-js')).default;
const o200k = (await import('gpt-tokenizer/encoding/o200k_harmony')).default;
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'texts.jsonl'), texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
fs.writeFileSync(path.join(out, 'llama3.ids'),
  texts.map((t) => JSON.stringify(llama.encode(t, { bos: false, eos: false }))).join('\n') + '\n');
// gpt-tokenizer 3.4 does not recognise every harmony special token inside text (it encodes
// "<|message|>" as ordinary text), so special tokens are split here with the harmony table and
// only the text between them goes through the library's BPE.
const harmony = new Map([
  ['<|startoftext|>', 199998], ['<|endoftext|>', 199999], ['<|return|>', 200002],
  ['<|constrain|>', 200003], ['<|channel|>', 200005], ['<|start|>', 200006], ['<|end|>', 200007],
  ['<|message|>', 200008], ['<|call|>', 200012], ['<|endofprompt|>', 200018],
]);
const specialRe = /<\|(?:startoftext|endoftext|return|constrain|channel|start|end|message|call|endofprompt|reserved_2\d{5})\|>/g;
function o200kEncode(t) {
  const ids = [];
  let last = 0;
  for (const m of t.matchAll(specialRe)) {
    const id = harmony.get(m[0]) ?? Number(m[0].slice(11, 17));
    if (id >= 201088) continue;
    if (m.index > last) ids.push(...o200k.encode(t.slice(last, m.index), { disallowedSpecial: new Set() }));
    ids.push(id);
    last = m.index + m[0].length;
  }
  if (last < t.length) ids.push(...o200k.encode(t.slice(last), { disallowedSpecial: new Set() }));
  return ids;
}
fs.writeFileSync(path.join(out, 'o200k_harmony.ids'),
  texts.map((t) => JSON.stringify(o200kEncode(t))).join('\n') + '\n');
console.log(JSON.stringify({ texts: texts.length }));
