#include "cli/model_summary.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace wick::cli {

namespace {

using nlohmann::json;

// Arrays longer than this are summarised as {"type":"array",...} unless --full.
constexpr uint64_t kJsonArrayLimit = 64;
// Arrays up to this long are shown inline in the text report.
constexpr uint64_t kTextArrayLimit = 8;

bool IsSignedType(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kInt64;
}

// float32 values print and serialise by their shortest decimal form (1e-05, not
// 9.999999747378752e-06).
double FloatForDisplay(const GgufValue& v) {
  if (v.type() == GgufValueType::kFloat32) {
    return std::stod(fmt::format("{}", *v.As<float>()));
  }
  return *v.As<double>();
}

json ValueToJson(const GgufValue& v, bool full) {
  switch (v.type()) {
    case GgufValueType::kString:
      return std::string(v.str());
    case GgufValueType::kBool:
      return *v.As<bool>();
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64:
      return FloatForDisplay(v);
    case GgufValueType::kArray: {
      if (!full && v.size() > kJsonArrayLimit) {
        std::string elem = v.TypeName();
        elem = elem.substr(6, elem.size() - 7);  // strip "array[" and "]"
        return {{"type", "array"}, {"element_type", elem}, {"len", v.size()}};
      }
      json out = json::array();
      for (uint64_t i = 0; i < v.size(); ++i) out.push_back(ValueToJson(v.Element(i), full));
      return out;
    }
    default:
      if (IsSignedType(v.type())) return *v.As<int64_t>();
      return *v.As<uint64_t>();
  }
}

// Text from a file, made safe for one terminal line and kept short.
std::string Display(std::string_view text, size_t max_len = 60) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max_len) return out + fmt::format("... ({} bytes)", text.size());
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string ValueToText(const GgufValue& v) {
  switch (v.type()) {
    case GgufValueType::kString:
      return "\"" + Display(v.str()) + "\"";
    case GgufValueType::kArray: {
      if (v.size() > kTextArrayLimit || v.element_type() == GgufValueType::kArray) {
        return fmt::format("[{} x {}]", v.size(), v.TypeName().substr(6, v.TypeName().size() - 7));
      }
      std::string out = "[";
      for (uint64_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ", ";
        out += ValueToText(v.Element(i));
      }
      return out + "]";
    }
    default:
      return ValueToJson(v, false).dump();
  }
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", value, kUnits[unit]);
}

std::string HumanCount(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f} K", n / 1e3);
  return std::to_string(n);
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return "[" + fmt::format("{}", fmt::join(shape, ", ")) + "]";
}

std::optional<json> ReadJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::string JsonText(const json& j) {
  return j.is_string() ? j.get<std::string>()
                       : j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

ModelSummary SummarizeGguf(const GgufFile& file, bool full) {
  ModelSummary s;
  s.path = file.name();
  s.format = "gguf";
  s.version = file.version();
  s.format_detail =
      fmt::format("alignment {}, data at offset {}", file.alignment(), file.data_offset());
  if (file.shard_paths().size() > 1) {
    s.format_detail += fmt::format(", split in {} files", file.shard_paths().size());
  }
  s.file_size = file.total_size();
  s.architecture = std::string(file.Get<std::string_view>("general.architecture").value_or(""));
  s.name = std::string(file.Get<std::string_view>("general.name").value_or(""));
  s.tokenizer_model = std::string(file.Get<std::string_view>("tokenizer.ggml.model").value_or(""));
  s.has_chat_template = file.Find("tokenizer.chat_template") != nullptr;

  if (auto tokens = file.GetStrings("tokenizer.ggml.tokens"); tokens.ok()) {
    s.vocab_size = tokens->size();
  } else if (auto n = file.Get<uint64_t>(s.architecture + ".vocab_size"); n.ok()) {
    s.vocab_size = *n;
  }

  const std::string arch_prefix = s.architecture + ".";
  for (const GgufKeyValue& kv : file.metadata()) {
    s.metadata[std::string(kv.key)] = ValueToJson(kv.value, full);
    bool is_hparam = !s.architecture.empty() && kv.key.substr(0, arch_prefix.size()) == arch_prefix;
    (is_hparam ? s.hyperparameters : s.other_metadata)
        .emplace_back(std::string(kv.key), ValueToText(kv.value));
  }

  for (const GgufTensorInfo& t : file.tensors()) {
    s.tensors.push_back({std::string(t.name), std::string(NameOf(t.type)), t.shape, t.offset,
                         t.n_bytes, t.n_elements, ""});
    s.n_params += t.n_elements;
  }
  s.extra["alignment"] = file.alignment();
  s.extra["data_offset"] = file.data_offset();
  return s;
}

ModelSummary SummarizeSafetensors(const SafetensorsModel& model, const std::string& path,
                                  bool full) {
  ModelSummary s;
  s.path = path;
  s.format = "safetensors";
  s.format_detail =
      fmt::format("{} file{}", model.files().size(), model.files().size() == 1 ? "" : "s");
  for (const SafetensorsFile& f : model.files()) {
    s.file_size += f.file_size();
    for (const auto& [key, value] : f.metadata()) s.metadata[key] = value;
  }
  for (const SafetensorsTensor* t : model.tensors()) {
    std::string file;
    if (model.files().size() > 1) {
      for (const SafetensorsFile& f : model.files()) {
        if (f.FindTensor(t->name) == t) file = std::filesystem::path(f.name()).filename();
      }
    }
    s.tensors.push_back({t->name, std::string(NameOf(t->dtype)), t->shape, t->offset, t->n_bytes,
                         t->n_elements, file});
    s.n_params += t->n_elements;
  }

  // The architecture and tokenizer live beside the weights, in Hugging Face's files.
  const std::filesystem::path dir = model.directory();
  if (auto config = ReadJsonFile(dir / "config.json"); config && config->is_object()) {
    s.extra["config"] = *config;
    if (auto it = config->find("model_type"); it != config->end() && it->is_string()) {
      s.architecture = it->get<std::string>();
    }
    if (auto it = config->find("architectures"); it != config->end()) {
      s.extra["architectures"] = *it;
      if (s.architecture.empty() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
        s.architecture = (*it)[0].get<std::string>();
      }
    }
    if (auto it = config->find("_name_or_path"); it != config->end() && it->is_string()) {
      s.name = it->get<std::string>();
    }
    if (auto it = config->find("vocab_size"); it != config->end() && it->is_number_unsigned()) {
      s.vocab_size = it->get<uint64_t>();
    }
    for (const auto& [key, value] : config->items()) {
      if (key == "architectures" || key == "model_type" || key == "_name_or_path") continue;
      if (value.is_primitive()) s.hyperparameters.emplace_back(key, JsonText(value));
    }
  }
  if (s.name.empty()) s.name = dir.filename().string();
  if (auto tok = ReadJsonFile(dir / "tokenizer.json"); tok && tok->is_object()) {
    const json& m = (*tok)["model"];
    if (m.is_object() && m.contains("type") && m["type"].is_string()) {
      s.tokenizer_model = m["type"].get<std::string>();
    }
    uint64_t n = m.is_object() && m.contains("vocab") ? m["vocab"].size() : 0;
    if (n > 0) {
      s.extra["tokenizer_vocab_size"] = n;
      if (!s.vocab_size) s.vocab_size = n;
    }
  }
  if (auto tc = ReadJsonFile(dir / "tokenizer_config.json"); tc && tc->is_object()) {
    s.has_chat_template = tc->contains("chat_template");
  }
  s.has_chat_template = s.has_chat_template || std::filesystem::exists(dir / "chat_template.jinja");
  (void)full;
  return s;
}

nlohmann::json SummaryToJson(const ModelSummary& s) {
  json tensors = json::array();
  for (const TensorRow& t : s.tensors) {
    json row = {{"name", t.name},     {"type", t.type},   {"shape", t.shape},
                {"offset", t.offset}, {"bytes", t.bytes}, {"n_elements", t.n_elements}};
    if (!t.file.empty()) row["file"] = t.file;
    tensors.push_back(std::move(row));
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // type -> {count, bytes}
  for (const TensorRow& t : s.tensors) {
    by_type[t.type].first++;
    by_type[t.type].second += t.bytes;
  }
  json size_by_type = json::object();
  for (const auto& [type, cb] : by_type) {
    size_by_type[type] = {{"tensors", cb.first}, {"bytes", cb.second}};
  }
  json out = {
      {"path", s.path},
      {"format", s.format},
      {"version", s.version ? json(*s.version) : json(nullptr)},
      {"architecture", s.architecture},
      {"name", s.name},
      {"tokenizer_model", s.tokenizer_model},
      {"vocab_size", s.vocab_size ? json(*s.vocab_size) : json(nullptr)},
      {"chat_template", s.has_chat_template},
      {"metadata", s.metadata},
      {"tensors", std::move(tensors)},
      {"n_tensors", s.tensors.size()},
      {"n_params", s.n_params},
      {"size_by_type", std::move(size_by_type)},
      {"file_size", s.file_size},
  };
  for (const auto& [key, value] : s.extra.items()) out[key] = value;
  return out;
}

std::string SummaryToText(const ModelSummary& s) {
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) {
    out += fmt::format("{:<16}{}\n", label, value);
  };
  line("file", fmt::format("{} ({})", s.path, HumanBytes(s.file_size)));
  line("format", s.version ? fmt::format("{} v{}, {}", s.format == "gguf" ? "GGUF" : s.format,
                                         *s.version, s.format_detail)
                           : fmt::format("{}, {}", s.format, s.format_detail));
  line("architecture", s.architecture.empty() ? "(not stated)" : Display(s.architecture));
  line("name", s.name.empty() ? "(not stated)" : Display(s.name));
  if (!s.hyperparameters.empty()) {
    out += "hyper-parameters\n";
    for (const auto& [key, value] : s.hyperparameters)
      out += fmt::format("  {:<44}{}\n", key, value);
  }
  std::string tokenizer = s.tokenizer_model.empty() ? "(none)" : Display(s.tokenizer_model);
  if (s.vocab_size) tokenizer += fmt::format(", {} tokens", *s.vocab_size);
  line("tokenizer", tokenizer);
  line("chat template", s.has_chat_template ? "yes" : "no");
  if (!s.other_metadata.empty()) {
    out += "metadata\n";
    for (const auto& [key, value] : s.other_metadata)
      out += fmt::format("  {:<44}{}\n", key, value);
  }
  uint64_t total_bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;
  for (const TensorRow& t : s.tensors) {
    total_bytes += t.bytes;
    by_type[t.type].first++;
    by_type[t.type].second += t.bytes;
  }
  line("tensors", fmt::format("{}, {} parameters ({}), {}", s.tensors.size(),
                              HumanCount(s.n_params), s.n_params, HumanBytes(total_bytes)));
  if (!by_type.empty()) {
    out += "size by type\n";
    for (const auto& [type, cb] : by_type) {
      out += fmt::format("  {:<8}{:>6} tensors  {:>12}\n", type, cb.first, HumanBytes(cb.second));
    }
    size_t width = 4;
    for (const TensorRow& t : s.tensors) width = std::max(width, Display(t.name).size());
    out += fmt::format("\n  {:<{}}  {:<8}{:<24}{:>14}\n", "name", width, "type", "shape", "bytes");
    for (const TensorRow& t : s.tensors) {
      out += fmt::format("  {:<{}}  {:<8}{:<24}{:>14}\n", Display(t.name), width, t.type,
                         ShapeText(t.shape), t.bytes);
    }
  }
  return out;
}

}  // namespace wick::cli
