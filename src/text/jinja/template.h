// wick::jinja::Template: renders Hugging Face chat templates exactly as Python transformers
// does. That is Jinja2 3.1 in an ImmutableSandboxedEnvironment with trim_blocks,
// lstrip_blocks and the loopcontrols extension, `tojson` as json.dumps(ensure_ascii=False),
// and the globals raise_exception(message) and strftime_now(format).
//
// The subset is what chat templates use: if/for/set/macro/call/filter/with blocks (and
// transformers' {% generation %}), break and continue, namespace(), Python's operators and
// printing, str/dict/list methods, Jinja2's tests and most of its filters. Not supported:
// template inheritance and includes, recursive loops, autoescaping, and the filters groupby,
// wordwrap, urlize, urlencode, striptags, xmlattr, filesizeformat and random.
//
// Templates come from model files, so they are untrusted: every failure is an Error, and
// nesting, recursion, work and output size are bounded (no crash, no hang).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace wick::jinja {

struct RenderOptions {
  // The time strftime_now() formats, ISO 8601 as "2026-01-15T10:30:00" (a date alone is
  // midnight; a zone suffix is ignored); empty: the current local time.
  std::string now;
};

// Immutable once parsed: copies share the tree, and Render may run on many threads at once.
class Template {
 public:
  // Syntax errors are kInvalidArgument, "line L, column C: what is wrong".
  static Result<Template> Parse(std::string_view source);

  // Renders with the variables of `context`, which must be a JSON object. Errors:
  // - raise_exception(message) in the template: kInvalidArgument, the message exactly as
  //   raised (IsRaisedError tells these apart);
  // - anything else going wrong while rendering (an undefined value used, a type error):
  //   kTypeMismatch, or kUnsupported for exceeded limits, prefixed with "line N: ".
  Result<std::string> Render(const nlohmann::ordered_json& context,
                             const RenderOptions& options = {}) const;

 private:
  struct Parsed;
  explicit Template(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}

  std::shared_ptr<const Parsed> parsed_;  // shared: copies of a Template are cheap
};

// True when `error`, returned by Template::Render, came from raise_exception() in the
// template, i.e. the template refused the conversation (the CLI exits with code 3).
bool IsRaisedError(const Error& error);

}  // namespace wick::jinja
