#include "tools/corvid/text_streamer.h"

#include <algorithm>
#include <utility>

#include "engine/status_macros.h"

namespace corvid::cli {

absl::StatusOr<TextStreamer> TextStreamer::Create(const Tokenizer& tokenizer,
                                                  const std::vector<int32_t>& prompt) {
  ASSIGN_OR_RETURN(StreamingDetokenizer detokenizer,
                   StreamingDetokenizer::Create(tokenizer, /*skip_special_tokens=*/true));
  std::string prompt_text;  // already on the user's screen: discarded
  RETURN_IF_ERROR(detokenizer.Add(prompt, &prompt_text));
  const size_t skip = detokenizer.pending_bytes();
  return TextStreamer(std::move(detokenizer), skip, tokenizer.vocab_size());
}

std::string TextStreamer::DropPromptBytes(std::string text) {
  const size_t n = std::min(skip_, text.size());
  skip_ -= n;
  return text.substr(n);
}

absl::StatusOr<std::string> TextStreamer::Push(int32_t token) {
  if (token >= pieces_) return std::string();
  std::string text;
  RETURN_IF_ERROR(detokenizer_.Add({&token, 1}, &text));
  return DropPromptBytes(std::move(text));
}

std::string TextStreamer::Finish() { return DropPromptBytes(detokenizer_.Finish()); }

}  // namespace corvid::cli
