// `corvid tokenize --server HOST:PORT`: the same line-oriented tokenize/detokenize as the local
// mode, done by a running corvid-tokenizer service. Lines are sent in batches (one Encode or
// Decode call per kBatchLines lines), so piping a large file costs few round trips.
#ifndef CORVID_TOOLS_CORVID_TOKENIZE_REMOTE_H_
#define CORVID_TOOLS_CORVID_TOKENIZE_REMOTE_H_

#include <string>

namespace corvid::cli {

struct RemoteTokenizeOptions {
  std::string server;      // HOST:PORT of corvid-tokenizer
  std::string model_name;  // empty: the server's default model
  bool special = true;     // add bos/eos when encoding; keep special tokens when decoding
  bool decode = false;     // lines of ids -> text
  double timeout_s = 30;   // per call
};

// Reads stdin, writes stdout in the local mode's format; returns the exit code (1 on a server
// error, reported with the offending input line, 2 when built without gRPC).
int RunRemoteTokenize(const RemoteTokenizeOptions& options);

}  // namespace corvid::cli

#endif  // CORVID_TOOLS_CORVID_TOKENIZE_REMOTE_H_
