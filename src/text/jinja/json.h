// Values to and from JSON: the render context comes in as JSON, and `tojson` writes JSON
// exactly as Python's json.dumps does (transformers' tojson is json.dumps with
// ensure_ascii=False), so tool schemas reach the model byte for byte as in Python.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.h"
#include "text/jinja/value.h"

namespace wick::jinja {

// Objects become dicts in their key order; integers beyond int64 become floats.
Result<Value> FromJson(const nlohmann::ordered_json& json);

struct JsonOptions {
  // json.dumps(indent=...): the text of one level, or nullopt for a single line.
  std::optional<std::string> indent;
  // Defaults as json.dumps picks them: ", " on one line, "," when indenting.
  std::optional<std::string> item_separator;
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};

// json.dumps(value, ...); values JSON cannot hold are a TypeError with Python's message.
Result<std::string> ToJson(const Value& value, const JsonOptions& options);

}  // namespace wick::jinja
