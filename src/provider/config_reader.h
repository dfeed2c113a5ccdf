// Reading one TOML table of the config file with messages that name the file, the key's full
// path and its line. Private to src/provider/config*.cpp: it is the only header that exposes
// toml++, so nothing else compiles it.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "provider/config.h"

namespace wick::provider::config_internal {

// "a string", "an integer", ...: for "expected X, got Y".
std::string_view TypeName(const toml::node& node);

// `key` as it would be written in TOML: bare when it can be, quoted otherwise.
std::string TomlKey(std::string_view key);

// Whether `key` looks like it holds a secret ("api_key", "token", "db_password").
bool IsSecretName(std::string_view key);

// Letters, digits, '.', '_', '-': provider and API key names, which appear in "provider/model"
// routes and metric labels.
bool IsValidName(std::string_view name);

class Section {
 public:
  // `path` is how the table is named in messages: "" for the root, "remote[1]", "fallback".
  Section(const std::string& source, const toml::table& table, std::string path)
      : source_(source), table_(table), path_(std::move(path)) {}

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }
  std::string KeyPath(std::string_view key) const;
  const toml::node* Get(std::string_view key) const { return table_.get(key); }

  // "FILE:LINE:COL: path.key: problem", at `node` (or at the table itself when null).
  Error Fail(const toml::node* node, std::string_view key, std::string_view problem) const;
  Error Fail(const toml::source_region& where, std::string_view key,
             std::string_view problem) const;

  // Fails on the first key (in file order) not in `allowed`, explaining secrets specially.
  Status CheckKeys(std::initializer_list<std::string_view> allowed) const;

  // Each reader leaves `out` alone when the key is absent, unless `required`.
  Status String(std::string_view key, std::string& out, bool required = false,
                bool allow_empty = false) const;
  Status Bool(std::string_view key, bool& out) const;
  Status Int(std::string_view key, int64_t& out, int64_t min, int64_t max) const;
  Status Int(std::string_view key, int& out, int min, int max) const;
  // A finite, non-negative number; integers are accepted too ("budget = 10").
  Status Number(std::string_view key, double& out) const;
  Status Number(std::string_view key, std::optional<double>& out) const;
  // Strictly positive: a zero timeout or interval has no useful meaning.
  Status Duration(std::string_view key, milliseconds& out) const;
  Status Size(std::string_view key, uint64_t& out, bool allow_zero) const;
  Status StringList(std::string_view key, std::vector<std::string>& out) const;
  // An environment variable's name, then reads the variable. `allow_empty`: "" means none.
  Status Env(std::string_view key, SecretEnv& out, bool required, bool allow_empty) const;

 private:
  const std::string& source_;
  const toml::table& table_;
  std::string path_;
};

// Reads a variable into `out.set` and `out.value`.
void ResolveEnv(SecretEnv& out);

}  // namespace wick::provider::config_internal
