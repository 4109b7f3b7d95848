// SentencePiece firewall: this TU includes only SentencePiece and the standard library.
#include "engine/tokenizer_trainer.h"

#include <sentencepiece_trainer.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace corvid {
namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& v) : v_(v) {}
  bool done() const override { return i_ >= v_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return v_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& v_;
  size_t i_ = 0;
};

}  // namespace

std::string TrainBpeTokenizer(const std::vector<std::string>& sentences,
                              const BpeTrainOptions& options, std::string* model_proto) {
  if (sentences.empty()) return "no training text";
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", "1.0"},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      // One thread and every sentence, unshuffled: the same corpus gives the same model.
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", std::to_string(options.max_sentence_length)},
      {"minloglevel", "2"},
  };
  VectorIterator it(sentences);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, model_proto);
  if (!status.ok()) return std::string("SentencePiece training failed: ") + status.ToString();
  return "";
}

}  // namespace corvid
