#!/usr/bin/env python3
"""Reference token ids and texts for the C++ tokenizer tests.

Runs the reference libraries (Hugging Face `tokenizers` for tokenizer.json, `sentencepiece`
for tokenizer.model) on the project's corpus (tests/data/tokenizer_corpus) and on seeded random
id sequences, and writes everything as JSON for the C++ side to compare against exactly.

  tokenizer_reference.py --model DIR --corpus DIR --out FILE [--random N] [--seed S]
"""
import argparse
import json
import os
import random
import unicodedata


def corpus_texts(corpus_dir):
    """Each corpus file whole, then each of its lines (split on \\n only)."""
    cases = []
    for name in sorted(os.listdir(corpus_dir)):
        with open(os.path.join(corpus_dir, name), encoding="utf-8", newline="") as f:
            text = f.read()
        cases.append((name, text))
        seen = set()
        for i, line in enumerate(text.split("\n")):
            if line not in seen:
                seen.add(line)
                cases.append((f"{name}:{i + 1}", line))
    return cases


class HfReference:
    def __init__(self, model_dir):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=True)
        added = self.tok.get_added_tokens_decoder()
        self.specials = sorted(i for i, t in added.items() if t.special)
        self.added = sorted(added)
        # transformers rebuilds the post-processor from tokenizer_config.json's add_bos_token /
        # add_eos_token when they are given; otherwise the tokenizer.json template applies.
        self.config = {}
        config = os.path.join(model_dir, "tokenizer_config.json")
        if os.path.exists(config):
            with open(config, encoding="utf-8") as f:
                self.config = json.load(f)

    def _config_token(self, key):
        t = self.config.get(key)
        if isinstance(t, dict):
            t = t.get("content")
        return None if t is None else self.tok.token_to_id(t)

    def encode(self, text, special):
        flags = [self.config.get(k) for k in ("add_bos_token", "add_eos_token")]
        if not special or not any(isinstance(f, bool) for f in flags):
            return self.tok.encode(text, add_special_tokens=special).ids
        enc = self.tok.encode(text, add_special_tokens=True)
        seq = enc.sequence_ids  # None marks ids the template added
        inside = [k for k, s in enumerate(seq) if s is not None]
        first, last = (inside[0], inside[-1] + 1) if inside else (len(seq), len(seq))
        prefix, plain, suffix = enc.ids[:first], enc.ids[first:last], enc.ids[last:]
        bos, eos = self._config_token("bos_token"), self._config_token("eos_token")
        if isinstance(flags[0], bool):
            prefix = [bos] if flags[0] and bos is not None else []
        if isinstance(flags[1], bool):
            suffix = [eos] if flags[1] and eos is not None else []
        return prefix + plain + suffix

    def decode(self, ids, skip):
        return self.tok.decode(ids, skip_special_tokens=skip)


class SpReference:
    def __init__(self, model_dir):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
        self.vocab_size = self.sp.get_piece_size()
        self.add_bos, self.add_eos = True, False  # LlamaTokenizer defaults
        config = os.path.join(model_dir, "tokenizer_config.json")
        if os.path.exists(config):
            with open(config, encoding="utf-8") as f:
                c = json.load(f)
            if isinstance(c.get("add_bos_token"), bool):
                self.add_bos = c["add_bos_token"]
            if isinstance(c.get("add_eos_token"), bool):
                self.add_eos = c["add_eos_token"]
        self.specials = [i for i in range(self.vocab_size)
                         if self.sp.is_control(i) or self.sp.is_unknown(i)]
        self.added = self.specials

    def encode(self, text, special):
        ids = self.sp.encode(text)
        if special and self.add_bos and self.sp.bos_id() >= 0:
            ids = [self.sp.bos_id()] + ids
        if special and self.add_eos and self.sp.eos_id() >= 0:
            ids = ids + [self.sp.eos_id()]
        return ids

    def decode(self, ids, skip):
        if skip:
            ids = [i for i in ids if i not in set(self.specials)]
        return self.sp.decode(ids)


def unicode_sweep(step):
    """One line per sampled assigned code point c, putting c next to letters, digits,
    apostrophes and spaces, where category tables and regex classes matter."""
    lines = []
    for c in range(0x20, 0x110000, step):
        ch = chr(c)
        if 0xD800 <= c <= 0xDFFF or unicodedata.category(ch) == "Cn":
            continue
        lines.append(f"x{ch}{ch} {ch}1{ch}'{ch} {ch}")
    return lines


def random_sequences(ref, count, seed):
    """Random id sequences, half of the ids drawn from low ids (bytes, control pieces, short
    pieces) and added tokens, where decoding has its edge cases."""
    rng = random.Random(seed)
    interesting = list(range(min(ref.vocab_size, 600))) + list(ref.added)
    out = []
    for _ in range(count):
        n = rng.randint(1, 40)
        ids = [rng.choice(interesting) if rng.random() < 0.5 else rng.randrange(ref.vocab_size)
               for _ in range(n)]
        out.append(ids)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--random", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--sweep-step", type=int, default=17)
    args = ap.parse_args()
    if os.path.exists(os.path.join(args.model, "tokenizer.json")):
        ref = HfReference(args.model)
    else:
        ref = SpReference(args.model)
    cases = []
    for name, text in corpus_texts(args.corpus):
        ids = ref.encode(text, False)
        cases.append({"name": name, "text": text, "ids": ids,
                      "ids_special": ref.encode(text, True),
                      "decoded": ref.decode(ids, False)})
    sweep = [{"text": t, "ids": ref.encode(t, False)} for t in unicode_sweep(args.sweep_step)]
    randoms = [{"ids": ids, "decoded": ref.decode(ids, False), "decoded_skip": ref.decode(ids, True)}
               for ids in random_sequences(ref, args.random, args.seed)]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"vocab_size": ref.vocab_size, "cases": cases, "random": randoms,
                   "sweep": sweep}, f,
                  ensure_ascii=True)


if __name__ == "__main__":
    main()
