// The two UTF-8 facts the service needs: where input stops being valid (to name it in errors),
// and output made valid (proto3 `string` fields must hold UTF-8).
#ifndef CORVID_SERVICES_TOKENIZER_UTF8_TEXT_H_
#define CORVID_SERVICES_TOKENIZER_UTF8_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace corvid::tokenizer_service {

// Byte offset of the first ill-formed sequence, or std::string_view::npos when `s` is valid
// (overlong forms, surrogates and code points above U+10FFFF are ill-formed).
size_t FirstInvalidUtf8(std::string_view s);

// Replaces every maximal ill-formed subsequence by U+FFFD, leaving valid text untouched.
void MakeValidUtf8(std::string* s);

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_UTF8_TEXT_H_
