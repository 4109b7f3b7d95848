// How a tokenizer turns ids back into text, as data. Decode and StreamingDetokenizer both run
// these rules through one state machine (streaming_detokenizer.cc), which is why concatenated
// stream deltas always equal a full Decode.
#ifndef CORVID_ENGINE_TOKENIZER_DECODE_RULES_H_
#define CORVID_ENGINE_TOKENIZER_DECODE_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace corvid {

struct DecodeRules {
  enum class Kind : uint8_t {
    kText,       // contributes `text` (or `first_text`, see LeadingSpace)
    kByte,       // a byte-fallback piece <0xXX>: contributes `byte` to a byte run
    kInvisible,  // SentencePiece control piece: nothing, but it ends a byte run
  };
  struct Piece {
    std::string text;
    // The text when this piece is decoded first (LeadingSpace::kFirstPiece and
    // kSentencePiece), when has_first_text; `text` otherwise.
    std::string first_text;
    bool has_first_text = false;
    Kind kind = Kind::kText;
    uint8_t byte = 0;
    bool special = false;        // dropped when skipping special tokens
    bool sp_bos_space = false;   // SentencePiece: text starts with the ▁ that first_text drops
  };

  // How bytes become UTF-8.
  enum class Utf8 : uint8_t {
    // All pieces' bytes form one stream; ill-formed parts become one U+FFFD per maximal
    // subpart (Rust's String::from_utf8_lossy, used by tokenizers' ByteLevel decoder).
    kLossyStream,
    // Runs of byte pieces must be valid UTF-8 as a whole, else every byte of the run becomes
    // U+FFFD (tokenizers' ByteFallback decoder).
    kByteRunStrict,
    // Runs of byte pieces decode character by character; each byte that does not start a
    // complete valid character becomes U+FFFD (the sentencepiece library).
    kByteRunPerByte,
  };
  // How the space that encoding put in front of the text is removed.
  enum class LeadingSpace : uint8_t {
    kKeep,
    kStripFirstOutputSpace,  // tokenizers' Strip(' ', 1, 0) after Fuse: first output char
    kFirstPiece,             // tokenizers' Metaspace decoder: the first piece uses first_text
    kSentencePiece,          // sentencepiece's bos-whitespace rules (see StreamingDetokenizer)
  };

  std::vector<Piece> pieces;  // indexed by id
  Utf8 utf8 = Utf8::kLossyStream;
  LeadingSpace leading = LeadingSpace::kKeep;
  bool sp_strip_allowed = false;           // normalizer add_dummy_prefix || remove_extra_ws
  bool sp_remove_extra_whitespaces = false;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_DECODE_RULES_H_
