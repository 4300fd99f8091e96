// Writes the seed corpora in tests/fuzz/corpus/: one valid message of every kind, real model
// files and the hostile decoders of issue #12 (F1, F4, F6), shipped CSV rows and schemas.
// Usage: fedsyn_fuzz_make_seeds CORPUS_DIR DEMO_DIR. Rerun it when the wire or file formats
// change; its output is committed.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/data/schema.h"
#include "common/data/table_io.h"
#include "common/data/transformer.h"
#include "common/model/model_bundle.h"
#include "common/model/vae.h"
#include "common/net/frame.h"
#include "common/privacy/digest.h"
#include "nlohmann/json.hpp"
#include "protocol/codec.h"

namespace {

namespace fs = std::filesystem;
namespace p = fedsyn::protocol;

fs::path g_corpus;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_corpus / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string Slurp(const std::string& path) {
  auto text = fedsyn::data::ReadFileToString(path);
  if (!text.ok()) {
    std::cerr << text.status() << "\n";
    std::exit(1);
  }
  return *text;
}

// The model file with another JSON header (and, optionally, edited parameter bytes), its
// checksum recomputed so that production builds read as far as the fuzz build does.
std::string WithHeader(const std::string& file, const nlohmann::json& header,
                       void (*edit)(std::string&) = nullptr) {
  constexpr size_t kFixed = 8 + 4 + 8;
  uint64_t size = 0;
  std::memcpy(&size, file.data() + 12, sizeof size);
  std::string parameters = file.substr(kFixed + size, file.size() - 64 - kFixed - size);
  if (edit) edit(parameters);
  const std::string text = header.dump();
  const uint64_t new_size = text.size();
  std::string body = file.substr(0, 12);
  body.append(reinterpret_cast<const char*>(&new_size), sizeof new_size);
  body += text;
  body += parameters;
  return body + fedsyn::privacy::Sha256Hex(body);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fedsyn_fuzz_make_seeds CORPUS_DIR DEMO_DIR\n";
    return 2;
  }
  g_corpus = argv[1];
  const std::string demo = argv[2];
  const std::string schema_path = demo + "/heart_disease_uci/heart_disease.schema.toml";
  const std::string rows =
      Slurp(demo + "/heart_disease_uci/processed.cleveland.data").substr(0, 400);
  auto schema = fedsyn::data::Schema::LoadFile(schema_path);
  if (!schema.ok()) return 1;

  // A small published decoder, as a codes-mode release uploads it.
  fedsyn::model::ModelBundle bundle;
  bundle.training = {{"parameters", {{"dataset", "heart"}}}};
  bundle.schema = *schema;
  bundle.transformer = *fedsyn::data::Transformer::FromSchema(*schema);
  bundle.vae =
      *fedsyn::model::Vae::Create(fedsyn::model::TableVaeSpec(*bundle.transformer, 2, {8}), 1);
  bundle.model_private = true;
  bundle.model_epsilon = 1.0;
  bundle.model_delta = 1e-6;
  const std::string model = *fedsyn::model::PublishedModelBytes(bundle);

  // Site requests, one of each kind.
  p::Reserve reserve{"r-0123456789abcdef",
                     "heart",
                     {6'001'382, false},
                     303,
                     fedsyn::privacy::ReleaseMode::kSynthetic};
  reserve.relation = fedsyn::privacy::NeighbouringRelation::kReplaceOne;
  reserve.mechanism =
      fedsyn::privacy::MetricMechanismParams{fedsyn::privacy::NoiseMetric::kL2, 0.5, 3.0, 8, -11};
  p::Reserve codes = reserve;
  codes.mode = fedsyn::privacy::ReleaseMode::kCodes;
  codes.charge.model_private = true;
  codes.charge.model_sha256 = fedsyn::privacy::Sha256Hex(model);
  codes.charge.model_micros = 1'000'000;
  codes.charge.model_delta = 1e-6;
  const std::vector<std::pair<std::string, p::SiteRequest>> requests = {
      {"hello", p::Hello{p::kProtocolVersion, "fedsyn-agent 0.1.0"}},
      {"reserve", reserve},
      {"reserve_codes", codes},
      {"chunk", p::UploadChunk{"r-0123456789abcdef", 0, rows}},
      {"commit", p::Commit{"r-0123456789abcdef", 303, fedsyn::privacy::Sha256Hex(rows)}},
      {"heartbeat", p::Heartbeat{}},
      {"state", p::ReleaseStateQuery{"r-0123456789abcdef"}},
      {"upload_model", p::UploadModel{"r-0123456789abcdef", model}},
      {"audit_job", p::AuditJobQuery{"r-0123456789abcdef", "heart"}},
      {"commitment", p::CanaryCommitment{"r-0123456789abcdef", std::string(64, 'a')}},
      {"reveal",
       p::CanaryReveal{
           "r-0123456789abcdef", {false, true, true, false}, std::string(64, 'b'), {3, 17, 40}}},
  };
  std::string stream;
  for (const auto& [name, request] : requests) {
    const std::string bytes = p::EncodeSiteRequest(request);
    Write("site_request", name, bytes);
    const auto header = fedsyn::net::EncodeFrameHeader(static_cast<uint32_t>(bytes.size()));
    stream += std::string(header.begin(), header.end()) + bytes;
  }
  Write("frame", "session", stream);
  Write("frame", "oversized_header", std::string("\x00\x80\x00\x01", 4) + "x");

  for (auto query : {p::AdminQuery::kStatus, p::AdminQuery::kBudgets, p::AdminQuery::kReleases})
    Write("admin_request", "query" + std::to_string(static_cast<int>(query)),
          p::EncodeAdminRequest(p::AdminRequest{p::kProtocolVersion, query}));

  // Responses: the first byte picks the decoder (even: site, odd: admin).
  const std::vector<std::pair<std::string, p::SiteResponse>> responses = {
      {"error", p::Error{absl::StatusCode::kResourceExhausted, "budget", 1'995'854}},
      {"welcome", p::Welcome{p::kProtocolVersion,
                             "cleveland",
                             {{"heart", schema->toml_text, 20'000'000, 6'001'382}}}},
      {"reserved", p::Reserved{"r-0123456789abcdef", 13'998'618, false, 6'001'382}},
      {"ack", p::ChunkAck{"r-0123456789abcdef", 1}},
      {"state", p::ReleaseState{"r-0123456789abcdef", p::ReleaseProgress::kReserved, 1}},
      {"audit_job", p::AuditJob{"r-0123456789abcdef", rows, 4}},
      {"audit_state",
       p::AuditStateReply{"r-0123456789abcdef", fedsyn::audit::AuditState::kRevealed}},
  };
  for (const auto& [name, response] : responses)
    Write("responses", "site_" + name, std::string(1, '\0') + p::EncodeSiteResponse(response));
  p::SiteStatus status;
  status.site_id = "cleveland";
  status.connected = true;
  p::ReleaseInfo info;
  info.release_id = "r-0123456789abcdef";
  info.site_id = "va";
  info.dataset = "heart";
  Write("responses", "admin_status",
        "\x01" + p::EncodeAdminResponse(std::vector<p::SiteStatus>{status}));
  Write("responses", "admin_releases",
        "\x01" + p::EncodeAdminResponse(std::vector<p::ReleaseInfo>{info}));
  Write("responses", "admin_budgets",
        "\x01" + p::EncodeAdminResponse(std::vector<p::Budget>{{"va", "heart", 20, 6}}));

  // Model files: a valid decoder and the hostile ones of issue #12.
  Write("model_bundle", "decoder", model);
  uint64_t header_size = 0;
  std::memcpy(&header_size, model.data() + 12, sizeof header_size);
  const nlohmann::json header = nlohmann::json::parse(model.substr(20, header_size));
  const std::vector<std::pair<std::string, void (*)(nlohmann::json&)>> hostile = {
      {"F1_header_array", [](nlohmann::json& h) { h = nlohmann::json::array(); }},
      {"F1_spec_number", [](nlohmann::json& h) { h["spec"] = 5; }},
      {"F1_tensors_number", [](nlohmann::json& h) { h["tensors"] = 7; }},
      {"F1_tensor_entry_number", [](nlohmann::json& h) { h["tensors"][0] = 3; }},
      {"F1_shape_text", [](nlohmann::json& h) { h["tensors"][0]["shape"] = "big"; }},
      {"F1_private_text", [](nlohmann::json& h) { h["metadata"]["model_private"] = "yes"; }},
      {"F1_epsilon_text", [](nlohmann::json& h) { h["metadata"]["model_epsilon"] = "3"; }},
      {"F1_metadata_array", [](nlohmann::json& h) { h["metadata"] = nlohmann::json::array(); }},
      {"F4_input_terabytes", [](nlohmann::json& h) { h["spec"]["input_width"] = 1 << 30; }},
      {"F4_many_layers",
       [](nlohmann::json& h) { h["spec"]["hidden"] = std::vector<int>(4096, 8192); }},
      {"F4_oversized",
       [](nlohmann::json& h) {
         h["spec"]["hidden"] = std::vector<int>{4096, 4096};
       }},
      // Found by the model_bundle fuzz target: a float where an integer belongs made the JSON
      // library's conversion undefined behaviour.
      {"F4_float_width",
       [](nlohmann::json& h) { h["spec"]["hidden"] = std::vector<double>{8.8e80}; }},
      {"F4_float_shape", [](nlohmann::json& h) { h["tensors"][0]["shape"][0] = 1e300; }},
  };
  for (const auto& [name, change] : hostile) {
    nlohmann::json h = header;
    change(h);
    Write("model_bundle", name, WithHeader(model, h));
  }
  Write("model_bundle", "F6_nan", WithHeader(model, header, [](std::string& parameters) {
          const float nan = std::nanf("");
          std::memcpy(parameters.data(), &nan, sizeof nan);
        }));

  // CSV: the first byte picks the reader (0 with header, 1 headerless, 2 matrix, 3 neutraliser).
  Write("csv", "heart_headerless", "\x01" + rows);
  Write("csv", "heart_header",
        std::string("\x00", 1) +
            "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,"
            "slope,ca,thal,num\n" +
            rows);
  // 0x62: matrix reader, 1 + (0x62 >> 2) % 16 = 9 columns, with a header.
  Write("csv", "codes",
        std::string(1, '\x62') + "z1,z2,z3,z4,z5,z6,z7,z8,z9\n0.5,-1.25,3e-2,1,2,3,4,5,6\n");
  Write("csv", "quotes_and_formulas", "\x03\"a,\"\"b\"\"\",=1+1,-2.5,@x\n\"multi\nline\",+3,'-x\n");

  Write("schema", "heart", schema->toml_text);
  Write("schema", "adult", Slurp(demo + "/adult/adult.schema.toml"));
  Write("schema", "person",
        "[dataset]\nname = \"p\"\nperson_id = \"pid\"\nmax_rows_per_person = 3\n"
        "[csv]\nheader = true\ndelimiter = \";\"\n[[column]]\nname = \"pid\"\n"
        "type = \"ignored\"\n[[column]]\nname = \"y\"\ntype = \"binary\"\n"
        "categories = [\"no\", \"yes\"]\naliases = { \"yes.\" = \"yes\" }\n");
  std::cout << "seeds written to " << g_corpus << "\n";
  return 0;
}
