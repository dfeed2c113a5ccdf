#include "provider/config_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace wick::provider::config_internal {
namespace {

bool IsBareKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c != '-' && IsBareKeyChar(c); });
}

}  // namespace

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string TomlKey(std::string_view key) {
  if (!key.empty() && std::all_of(key.begin(), key.end(), IsBareKeyChar)) return std::string(key);
  // The quoted form is only ever shown in messages; Quote keeps it on one line.
  std::string quoted = Quote(key);
  return "\"" + quoted.substr(1, quoted.size() - 2) + "\"";
}

bool IsSecretName(std::string_view key) {
  for (std::string_view name :
       {"api_key", "apikey", "key", "token", "password", "passwd", "secret"}) {
    if (key == name) return true;
  }
  for (std::string_view suffix : {"_key", "_token", "_password", "_secret"}) {
    if (EndsWith(key, suffix)) return true;
  }
  return false;
}

bool IsValidName(std::string_view name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) { return IsBareKeyChar(c) || c == '.'; });
}

void ResolveEnv(SecretEnv& out) {
  const char* value = out.env.empty() ? nullptr : std::getenv(out.env.c_str());
  out.set = value != nullptr && value[0] != '\0';
  out.value = out.set ? value : "";
}

std::string Section::KeyPath(std::string_view key) const {
  return path_.empty() ? TomlKey(key) : path_ + "." + TomlKey(key);
}

Error Section::Fail(const toml::source_region& where, std::string_view key,
                    std::string_view problem) const {
  std::string at = source_;
  if (where.begin.line > 0) at += fmt::format(":{}:{}", where.begin.line, where.begin.column);
  std::string name = key.empty() ? path_ : KeyPath(key);
  if (name.empty()) return Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", at, problem));
  return Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}: {}", at, name, problem));
}

Error Section::Fail(const toml::node* node, std::string_view key, std::string_view problem) const {
  return Fail(node != nullptr ? node->source() : table_.source(), key, problem);
}

Status Section::CheckKeys(std::initializer_list<std::string_view> allowed) const {
  const toml::key* first = nullptr;
  for (const auto& [key, value] : table_) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
    // A table iterates in key order; report the unknown key that comes first in the file.
    const auto& pos = key.source().begin;
    if (first == nullptr || pos.line < first->source().begin.line ||
        (pos.line == first->source().begin.line && pos.column < first->source().begin.column)) {
      first = &key;
    }
  }
  if (first == nullptr) return OkStatus();
  if (IsSecretName(first->str())) {
    auto env = std::find_if(allowed.begin(), allowed.end(),
                            [](std::string_view k) { return EndsWith(k, "_env"); });
    std::string hint = env != allowed.end()
                           ? fmt::format(
                                 "; put it in an environment variable and name that "
                                 "variable with {} = \"NAME\"",
                                 *env)
                           : std::string(" (put secrets in environment variables)");
    return Fail(first->source(), first->str(), "secrets are not read from the config file" + hint);
  }
  std::string expected;
  for (std::string_view k : allowed) {
    if (!expected.empty()) expected += ", ";
    expected += k;
  }
  return Fail(first->source(), first->str(), fmt::format("unknown key (expected {})", expected));
}

Status Section::String(std::string_view key, std::string& out, bool required,
                       bool allow_empty) const {
  const toml::node* node = Get(key);
  if (node == nullptr) {
    if (required) return Fail(nullptr, key, "missing (required)");
    return OkStatus();
  }
  const auto* value = node->as_string();
  if (value == nullptr) {
    return Fail(node, key, fmt::format("expected a string, got {}", TypeName(*node)));
  }
  if (value->get().empty() && !allow_empty) return Fail(node, key, "must not be empty");
  out = value->get();
  return OkStatus();
}

Status Section::Bool(std::string_view key, bool& out) const {
  const toml::node* node = Get(key);
  if (node == nullptr) return OkStatus();
  const auto* value = node->as_boolean();
  if (value == nullptr) {
    return Fail(node, key, fmt::format("expected true or false, got {}", TypeName(*node)));
  }
  out = value->get();
  return OkStatus();
}

Status Section::Int(std::string_view key, int64_t& out, int64_t min, int64_t max) const {
  const toml::node* node = Get(key);
  if (node == nullptr) return OkStatus();
  const auto* value = node->as_integer();
  if (value == nullptr) {
    return Fail(node, key, fmt::format("expected an integer, got {}", TypeName(*node)));
  }
  int64_t v = value->get();
  if (v < min && min == 0) return Fail(node, key, fmt::format("{} is negative", v));
  if (v < min || v > max) {
    return Fail(node, key, fmt::format("{} is out of range ({} to {})", v, min, max));
  }
  out = v;
  return OkStatus();
}

Status Section::Int(std::string_view key, int& out, int min, int max) const {
  int64_t v = out;
  WICK_RETURN_IF_ERROR(Int(key, v, min, max));
  out = static_cast<int>(v);
  return OkStatus();
}

Status Section::Number(std::string_view key, double& out) const {
  std::optional<double> v;
  WICK_RETURN_IF_ERROR(Number(key, v));
  if (v) out = *v;
  return OkStatus();
}

Status Section::Number(std::string_view key, std::optional<double>& out) const {
  const toml::node* node = Get(key);
  if (node == nullptr) return OkStatus();
  double v = 0;
  if (const auto* f = node->as_floating_point()) {
    v = f->get();
  } else if (const auto* i = node->as_integer()) {
    v = static_cast<double>(i->get());
  } else {
    return Fail(node, key, fmt::format("expected a number, got {}", TypeName(*node)));
  }
  if (!std::isfinite(v)) return Fail(node, key, "must be a finite number");
  if (v < 0) return Fail(node, key, fmt::format("{} is negative", v));
  out = v;
  return OkStatus();
}

Status Section::Duration(std::string_view key, milliseconds& out) const {
  const toml::node* node = Get(key);
  if (node == nullptr) return OkStatus();
  milliseconds v{0};
  if (const auto* i = node->as_integer()) {
    // A bare integer counts seconds.
    constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000;
    if (i->get() < 0) return Fail(node, key, fmt::format("{} is negative", i->get()));
    if (i->get() > kMaxSeconds) return Fail(node, key, fmt::format("{}s is too long", i->get()));
    v = milliseconds(i->get() * 1000);
  } else if (const auto* s = node->as_string()) {
    Result<milliseconds> parsed = ParseDuration(s->get());
    if (!parsed.ok()) return Fail(node, key, parsed.error().message());
    v = *parsed;
  } else {
    return Fail(node, key,
                fmt::format("expected a duration such as \"30s\", got {}", TypeName(*node)));
  }
  if (v.count() == 0) return Fail(node, key, "must be longer than 0");
  out = v;
  return OkStatus();
}

Status Section::Size(std::string_view key, uint64_t& out, bool allow_zero) const {
  const toml::node* node = Get(key);
  if (node == nullptr) return OkStatus();
  uint64_t v = 0;
  if (const auto* i = node->as_integer()) {
    if (i->get() < 0) return Fail(node, key, fmt::format("{} is negative", i->get()));
    v = static_cast<uint64_t>(i->get());
  } else if (const auto* s = node->as_string()) {
    Result<uint64_t> parsed = ParseSize(s->get());
    if (!parsed.ok()) return Fail(node, key, parsed.error().message());
    v = *parsed;
  } else {
    return Fail(node, key,
                fmt::format("expected a size such as \"10GB\", got {}", TypeName(*node)));
  }
  if (v == 0 && !allow_zero) return Fail(node, key, "must be larger than 0");
  out = v;
  return OkStatus();
}

Status Section::StringList(std::string_view key, std::vector<std::string>& out) const {
  const toml::node* node = Get(key);
  if (node == nullptr) return OkStatus();
  const auto* array = node->as_array();
  if (array == nullptr) {
    return Fail(node, key, fmt::format("expected an array of strings, got {}", TypeName(*node)));
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const auto* s = item.as_string();
    if (s == nullptr) {
      return Fail(item.source(), key,
                  fmt::format("item {}: expected a string, got {}", i, TypeName(item)));
    }
    if (s->get().empty()) return Fail(item.source(), key, fmt::format("item {} is empty", i));
    if (std::find(values.begin(), values.end(), s->get()) != values.end()) {
      return Fail(item.source(), key,
                  fmt::format("item {}: {} is listed twice", i, Quote(s->get())));
    }
    values.push_back(s->get());
  }
  out = std::move(values);
  return OkStatus();
}

Status Section::Env(std::string_view key, SecretEnv& out, bool required, bool allow_empty) const {
  std::string name = out.env;
  WICK_RETURN_IF_ERROR(String(key, name, required, allow_empty));
  if (!name.empty() && !IsEnvName(name)) {
    return Fail(Get(key), key,
                fmt::format("{} is not an environment variable name (letters, digits and _); "
                            "the value is read from the variable, never from this file",
                            Quote(name)));
  }
  out.env = name;
  ResolveEnv(out);
  return OkStatus();
}

}  // namespace wick::provider::config_internal
