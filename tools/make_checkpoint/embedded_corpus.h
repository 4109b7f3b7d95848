// The tokenizer training corpus (data/corpus/*.txt), compiled into the tool.
#ifndef CORVID_TOOLS_MAKE_CHECKPOINT_EMBEDDED_CORPUS_H_
#define CORVID_TOOLS_MAKE_CHECKPOINT_EMBEDDED_CORPUS_H_

#include <string>
#include <vector>

namespace corvid {
std::vector<std::string> EmbeddedCorpus();
}  // namespace corvid

#endif  // CORVID_TOOLS_MAKE_CHECKPOINT_EMBEDDED_CORPUS_H_
