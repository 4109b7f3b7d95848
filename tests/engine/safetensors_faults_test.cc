// Hostile and broken safetensors files: every one must be refused with an error that names the
// file (and the tensor at fault), and none may crash or read past the mapping. Runs under
// ASan + UBSan in deploy/test.sh.
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/safetensors_file.h"
#include "engine/safetensors_writer.h"
#include "engine/weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/loader_test_util.h"

namespace corvid {
namespace {

using ::testing::HasSubstr;
using testing_util::ReadFileBytes;
using testing_util::ScratchDir;
using testing_util::WriteFileBytes;
using Json = nlohmann::ordered_json;

// A valid two-tensor file: "alpha" F32 [2,3] at [0,24), "beta" BF16 [4] at [24,32).
Json GoodHeader() {
  return Json{{"__metadata__", {{"format", "pt"}}},
              {"alpha", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
              {"beta", {{"dtype", "BF16"}, {"shape", {4}}, {"data_offsets", {24, 32}}}}};
}
std::string GoodData() { return std::string(32, '\x11'); }

absl::Status OpenRaw(const ScratchDir& dir, const std::string& header, const std::string& data) {
  const std::string path = dir / "model.safetensors";
  EXPECT_TRUE(WriteRawSafetensors(path, header, data).ok());
  return SafetensorsFile::Open(path).status();
}

void ExpectRefused(const absl::Status& st, const std::string& file,
                   const std::string& tensor = "") {
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(file));
  if (!tensor.empty()) {
    EXPECT_THAT(std::string(st.message()), HasSubstr("'" + tensor + "'"));
  }
}

TEST(SafetensorsFaultsTest, GoodFileOpens) {
  ScratchDir dir;
  ASSERT_TRUE(WriteRawSafetensors(dir / "model.safetensors", GoodHeader().dump(), GoodData()).ok());
  auto f = SafetensorsFile::Open(dir / "model.safetensors");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->tensors().size(), 2u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->Find("beta")->dtype, DType::kBF16);
}

TEST(SafetensorsFaultsTest, TruncatedAtEveryRegionIsRefused) {
  ScratchDir dir;
  const std::string good = dir / "good.safetensors";
  ASSERT_TRUE(WriteRawSafetensors(good, GoodHeader().dump(), GoodData()).ok());
  const std::string bytes = ReadFileBytes(good);
  const size_t header_end = bytes.size() - GoodData().size();
  // Empty, inside the length prefix, inside the JSON, at the data start, inside each tensor.
  for (size_t cut : {size_t{0}, size_t{3}, size_t{7}, size_t{8}, size_t{20}, header_end - 1,
                     header_end, header_end + 10, bytes.size() - 1}) {
    SCOPED_TRACE(cut);
    const std::string path = dir / "cut.safetensors";
    WriteFileBytes(path, bytes.substr(0, cut));
    auto f = SafetensorsFile::Open(path);
    ExpectRefused(f.status(), path);
  }
  // A cut inside the data region is blamed on the tensor that runs past it.
  WriteFileBytes(dir / "cut.safetensors", bytes.substr(0, bytes.size() - 1));
  ExpectRefused(SafetensorsFile::Open(dir / "cut.safetensors").status(), "cut.safetensors", "beta");
}

TEST(SafetensorsFaultsTest, HeaderLengthBeyondFile) {
  ScratchDir dir;
  ASSERT_TRUE(WriteRawSafetensors(dir / "a", GoodHeader().dump(), GoodData()).ok());
  std::string bytes = ReadFileBytes(dir / "a");
  bytes[0] = '\xff';  // length prefix now far beyond the file
  bytes[5] = '\x01';
  WriteFileBytes(dir / "model.safetensors", bytes);
  auto st = SafetensorsFile::Open(dir / "model.safetensors").status();
  ExpectRefused(st, "model.safetensors");
  EXPECT_THAT(std::string(st.message()), HasSubstr("header length"));
  // All 64 bits set: must not overflow into a small number.
  for (int i = 0; i < 8; ++i) bytes[i] = '\xff';
  WriteFileBytes(dir / "model.safetensors", bytes);
  ExpectRefused(SafetensorsFile::Open(dir / "model.safetensors").status(), "model.safetensors");
}

TEST(SafetensorsFaultsTest, BadHeaderJson) {
  ScratchDir dir;
  std::string header = GoodHeader().dump();
  ExpectRefused(OpenRaw(dir, header.substr(0, header.size() - 1), GoodData()), "model.safetensors");
  ExpectRefused(OpenRaw(dir, "[1, 2, 3]", GoodData()), "model.safetensors");
  ExpectRefused(OpenRaw(dir, std::string("{\"a\"\0:", 6), GoodData()), "model.safetensors");
  ExpectRefused(OpenRaw(dir, "", GoodData()), "model.safetensors");
  Json bad_meta = GoodHeader();
  bad_meta["__metadata__"]["n"] = 3;
  ExpectRefused(OpenRaw(dir, bad_meta.dump(), GoodData()), "model.safetensors");
}

TEST(SafetensorsFaultsTest, DuplicateTensorNameIsRefused) {
  ScratchDir dir;
  std::string header = GoodHeader().dump();
  header.insert(header.size() - 1,
                R"(,"alpha":{"dtype":"F32","shape":[2],"data_offsets":[24,32]})");
  ExpectRefused(OpenRaw(dir, header, GoodData()), "model.safetensors", "alpha");
}

TEST(SafetensorsFaultsTest, UnknownDtype) {
  ScratchDir dir;
  Json h = GoodHeader();
  h["beta"]["dtype"] = "F7";
  auto st = OpenRaw(dir, h.dump(), GoodData());
  ExpectRefused(st, "model.safetensors", "beta");
  EXPECT_THAT(std::string(st.message()), HasSubstr("F7"));
}

TEST(SafetensorsFaultsTest, OverlappingOffsets) {
  ScratchDir dir;
  Json h = GoodHeader();
  h["beta"]["data_offsets"] = {20, 28};  // starts inside alpha
  auto st = OpenRaw(dir, h.dump(), GoodData());
  ExpectRefused(st, "model.safetensors", "alpha");
  EXPECT_THAT(std::string(st.message()), HasSubstr("'beta'"));
  h["beta"]["data_offsets"] = {0, 8};  // same start as alpha
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "beta");
}

TEST(SafetensorsFaultsTest, OutOfRangeOffsets) {
  ScratchDir dir;
  Json h = GoodHeader();
  h["beta"]["data_offsets"] = {32, 40};  // past the 32-byte data region
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "beta");
  h["beta"]["data_offsets"] = {28, 20};  // end before begin
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "beta");
  h["beta"]["data_offsets"] = {-8, 0};
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "beta");
  h["beta"]["data_offsets"] = {24};
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "beta");
  h["beta"]["data_offsets"] = {Json::number_unsigned_t{18446744073709551600ull},
                               Json::number_unsigned_t{18446744073709551608ull}};
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "beta");
}

TEST(SafetensorsFaultsTest, DtypeTimesShapeMustMatchBytes) {
  ScratchDir dir;
  Json h = GoodHeader();
  h["alpha"]["shape"] = {2, 4};  // 32 bytes claimed, 24 stored
  auto st = OpenRaw(dir, h.dump(), GoodData());
  ExpectRefused(st, "model.safetensors", "alpha");
  EXPECT_THAT(std::string(st.message()), HasSubstr("bytes"));
  h = GoodHeader();
  h["alpha"]["dtype"] = "F16";  // 12 bytes for [2,3]
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "alpha");
  h = GoodHeader();
  h["alpha"]["shape"] = {2, -3};
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "alpha");
  h["alpha"]["shape"] = {2, 1.5};
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "alpha");
  // A shape whose element count overflows 64 bits must not wrap around to 24 bytes.
  h["alpha"]["shape"] = {uint64_t{1} << 61, uint64_t{1} << 61, 6};
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "alpha");
  h["alpha"]["shape"] = "[2,3]";
  ExpectRefused(OpenRaw(dir, h.dump(), GoodData()), "model.safetensors", "alpha");
}

// A tiny model (1 layer, hidden 8) whose files the WeightStore-level tests edit.
ModelConfig MicroConfig() {
  auto c = ModelConfig::FromJson(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
      "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
      "num_key_value_heads": 1, "vocab_size": 16, "max_position_embeddings": 32,
      "tie_word_embeddings": true})",
                                 "");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// Writes MicroConfig's tensors (from Dummy), letting `edit` change the set first.
void WriteMicro(const std::string& dir,
                const std::function<void(std::map<std::string, TensorView>*)>& edit) {
  auto store = WeightStore::Dummy(MicroConfig(), DType::kF32, 1);
  ASSERT_TRUE(store.ok()) << store.status();
  std::map<std::string, TensorView> tensors;
  for (const std::string& n : (*store)->Names()) tensors[n] = *(*store)->Find(n);
  edit(&tensors);
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
}

TEST(SafetensorsFaultsTest, MissingTensorIsNamed) {
  ScratchDir dir;
  WriteMicro(dir.path(), [](auto* t) {});
  ASSERT_TRUE(WeightStore::Open(dir.path(), MicroConfig()).ok());
  WriteMicro(dir.path(), [](auto* t) { t->erase("model.layers.0.mlp.up_proj.weight"); });
  auto st = WeightStore::Open(dir.path(), MicroConfig()).status();
  ExpectRefused(st, "model.safetensors", "model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SafetensorsFaultsTest, WrongShapeIsNamed) {
  ScratchDir dir;
  WriteMicro(dir.path(), [](auto* t) {
    TensorView& v = (*t)["model.layers.0.self_attn.k_proj.weight"];
    v.shape = {8, 4};  // same bytes, transposed shape
  });
  auto st = WeightStore::Open(dir.path(), MicroConfig()).status();
  ExpectRefused(st, "model.safetensors", "model.layers.0.self_attn.k_proj.weight");
  EXPECT_THAT(std::string(st.message()), HasSubstr("[8,4]"));
}

TEST(SafetensorsFaultsTest, NonFloatDtypeIsRefusedButExtraTensorsAreFine) {
  ScratchDir dir;
  const std::vector<int32_t> ids = {1, 2, 3};
  WriteMicro(dir.path(), [&](auto* t) {
    (*t)["extra.int_table"] = TensorView{DType::kI32, {3}, ids.data(), 12};
  });
  ASSERT_TRUE(WeightStore::Open(dir.path(), MicroConfig()).ok());
  std::vector<int32_t> norm(8, 1);
  WriteMicro(dir.path(), [&](auto* t) {
    (*t)["model.norm.weight"] = TensorView{DType::kI32, {8}, norm.data(), 32};
  });
  auto st = WeightStore::Open(dir.path(), MicroConfig()).status();
  ExpectRefused(st, "model.safetensors", "model.norm.weight");
  EXPECT_THAT(std::string(st.message()), HasSubstr("I32"));
}

TEST(SafetensorsFaultsTest, ShardIndexFaults) {
  ScratchDir dir;
  WriteMicro(dir.path(), [](auto* t) {});
  std::rename((dir / "model.safetensors").c_str(), (dir / "part-1.safetensors").c_str());
  Json index = {{"metadata", Json::object()}, {"weight_map", Json::object()}};
  for (const auto& [name, shape] : ExpectedTensors(MicroConfig())) {
    index["weight_map"][name] = "part-1.safetensors";
  }
  WriteFileBytes(dir / "model.safetensors.index.json", index.dump());
  ASSERT_TRUE(WeightStore::Open(dir.path(), MicroConfig()).ok());

  Json missing_file = index;
  missing_file["weight_map"]["model.norm.weight"] = "part-2.safetensors";
  WriteFileBytes(dir / "model.safetensors.index.json", missing_file.dump());
  ExpectRefused(WeightStore::Open(dir.path(), MicroConfig()).status(), "part-2.safetensors");

  Json absent_tensor = index;
  absent_tensor["weight_map"]["lm_head.weight"] = "part-1.safetensors";
  WriteFileBytes(dir / "model.safetensors.index.json", absent_tensor.dump());
  ExpectRefused(WeightStore::Open(dir.path(), MicroConfig()).status(), "part-1.safetensors",
                "lm_head.weight");

  Json escape = index;
  escape["weight_map"]["model.norm.weight"] = "../part-1.safetensors";
  WriteFileBytes(dir / "model.safetensors.index.json", escape.dump());
  ExpectRefused(WeightStore::Open(dir.path(), MicroConfig()).status(),
                "model.safetensors.index.json", "model.norm.weight");

  WriteFileBytes(dir / "model.safetensors.index.json", "{\"weight_map\": [");
  ExpectRefused(WeightStore::Open(dir.path(), MicroConfig()).status(),
                "model.safetensors.index.json");
}

TEST(SafetensorsFaultsTest, MissingFileAndUnsupportedArchitecture) {
  ScratchDir dir;
  auto st = WeightStore::Open(dir.path(), MicroConfig()).status();
  ExpectRefused(st, "model.safetensors");
  WriteFileBytes(dir / "config.json",
                 R"({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"})");
  auto c = ModelConfig::FromDir(dir.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("GPT2LMHeadModel"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(dir / "config.json"));
}

// Odd-sized neighbours leave tensors misaligned in the file; the store must hand out aligned
// copies with the same values (UBSan would flag a misaligned element read).
TEST(SafetensorsFaultsTest, MisalignedTensorsAreCopiedAligned) {
  ScratchDir dir;
  auto dummy = WeightStore::Dummy(MicroConfig(), DType::kF32, 5);
  ASSERT_TRUE(dummy.ok());
  Json h = {{"odd", {{"dtype", "U8"}, {"shape", {3}}, {"data_offsets", {0, 3}}}}};
  std::string data("abc");
  for (const std::string& name : (*dummy)->Names()) {
    const TensorView* v = (*dummy)->Find(name);
    h[name] = {{"dtype", "F32"},
               {"shape", v->shape},
               {"data_offsets", {data.size(), data.size() + v->nbytes}}};
    data.append(static_cast<const char*>(v->data), v->nbytes);
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  ASSERT_TRUE(WriteRawSafetensors(dir / "model.safetensors", header, data).ok());
  auto file = SafetensorsFile::Open(dir / "model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_NE(reinterpret_cast<uintptr_t>((*file)->Find("model.norm.weight")->data) % 4, 0u);

  auto store = WeightStore::Open(dir.path(), MicroConfig());
  ASSERT_TRUE(store.ok()) << store.status();
  for (const std::string& name : (*dummy)->Names()) {
    const TensorView* got = (*store)->Find(name);
    const TensorView* want = (*dummy)->Find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got->data) % 4, 0u) << name;
    ASSERT_EQ(got->nbytes, want->nbytes);
    EXPECT_EQ(std::memcmp(got->data, want->data, want->nbytes), 0) << name;
  }
}

}  // namespace
}  // namespace corvid
