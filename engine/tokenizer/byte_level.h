// GPT-2's byte-level alphabet: every byte is shown as a printable code point so that BPE
// vocabularies can be stored as text. We convert vocabularies back to raw bytes at load time
// and run BPE on the bytes themselves.
#ifndef CORVID_ENGINE_TOKENIZER_BYTE_LEVEL_H_
#define CORVID_ENGINE_TOKENIZER_BYTE_LEVEL_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace corvid::byte_level {

// The code point that stands for byte b.
uint32_t ByteToCodePoint(uint8_t b);
// The byte that code point cp stands for, or -1.
int CodePointToByte(uint32_t cp);
// Raw bytes of a byte-level token; false when some code point is outside the alphabet.
bool ToBytes(std::string_view token, std::string* bytes);
// The byte-level text of raw bytes.
std::string FromBytes(std::string_view bytes);

}  // namespace corvid::byte_level

#endif  // CORVID_ENGINE_TOKENIZER_BYTE_LEVEL_H_
