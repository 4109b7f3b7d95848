// The completion's text as it is sampled, for `corvid generate`: a StreamingDetokenizer primed
// with the prompt, so that the completion decodes as a continuation (a leading space that
// SentencePiece would strip from a first piece is kept) and never ends in a partial character.
#ifndef CORVID_TOOLS_CORVID_TEXT_STREAMER_H_
#define CORVID_TOOLS_CORVID_TEXT_STREAMER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace corvid::cli {

class TextStreamer {
 public:
  // `tokenizer` must outlive the streamer.
  static absl::StatusOr<TextStreamer> Create(const Tokenizer& tokenizer,
                                             const std::vector<int32_t>& prompt);
  // The new text `token` completes (empty while a character is incomplete). A token the
  // tokenizer has no piece for (a padded model vocabulary's row, which the engine samples like
  // any other) adds no text, as in the services' detokenizer.
  absl::StatusOr<std::string> Push(int32_t token);
  // Whatever is still held back.
  std::string Finish();

 private:
  TextStreamer(StreamingDetokenizer detokenizer, size_t skip, int pieces)
      : detokenizer_(std::move(detokenizer)), skip_(skip), pieces_(pieces) {}
  std::string DropPromptBytes(std::string text);

  StreamingDetokenizer detokenizer_;
  // Prompt bytes the detokenizer still held back after priming (an unfinished byte run):
  // they come out with the first completion text and are not part of it.
  size_t skip_;
  int pieces_;  // the tokenizer's size: ids from here on have no text
};

}  // namespace corvid::cli

#endif  // CORVID_TOOLS_CORVID_TEXT_STREAMER_H_
