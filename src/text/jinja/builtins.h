// The functions templates call: filters (`x|trim`), tests (`x is defined`), methods of str,
// dict and list (`s.strip()`, `d.items()`) and the globals (range, namespace, dict,
// raise_exception, strftime_now). Each does what Jinja2 3.1 and Python do, as configured by
// transformers (whose tojson is json.dumps with ensure_ascii=False).
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "text/jinja/value.h"

namespace wick::jinja {

// A named parameter of a built-in; `required` ones have no default.
struct Param {
  std::string_view name;
  Value default_value = Value::None();
  bool required = false;
};

// Binds positional and keyword arguments to `params` as Python does: the result has one
// value per parameter. `what` names the function in errors ("filter 'indent'").
Result<std::vector<Value>> BindArgs(std::string_view what, CallArgs args,
                                    std::initializer_list<Param> params);

// Fails when a string of `bytes` would pass kMaxStringBytes: checked before building one.
Status CheckLength(int64_t bytes);
// Checks the length text.replace(old_text, new_text, count) would have.
Status CheckReplace(std::string_view text, std::string_view old_text, std::string_view new_text,
                    int64_t count);

// A built-in function, or a method bound to the value it was looked up on.
class Function : public Object {
 public:
  using Fn = Result<Value> (*)(Interpreter& interpreter, const Value& self, CallArgs args);
  Function(std::string name, Value self, Fn fn)
      : name_(std::move(name)), self_(std::move(self)), fn_(fn) {}
  static Value Make(std::string name, Value self, Fn fn) {
    return Value::Object(std::make_shared<Function>(std::move(name), std::move(self), fn));
  }

  std::string TypeName() const override { return "builtin_function_or_method"; }
  std::string Repr() const override { return "<built-in method " + name_ + ">"; }
  bool callable() const override { return true; }
  Result<Value> Call(Interpreter& interpreter, CallArgs args) const override;

 private:
  std::string name_;
  Value self_;
  Fn fn_;
};

// A namespace() object: the one value templates may change (`{% set ns.x = 1 %}`).
class Namespace : public Object {
 public:
  std::string TypeName() const override { return "Namespace"; }
  std::string Repr() const override;
  Value GetAttr(std::string_view name) const override;
  uint32_t depth() const override { return attrs_.depth(); }
  void Set(std::string name, Value value) {
    attrs_.Set(Value::String(std::move(name)), std::move(value));
  }
  // Drops every attribute, which breaks reference cycles (`{% set ns.self = ns %}`).
  void Clear() { attrs_ = DictData(); }

 private:
  DictData attrs_;
};

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);
Result<Value> ApplyFilter(Interpreter& interpreter, std::string_view name, const Value& input,
                          CallArgs args);
Result<bool> ApplyTest(Interpreter& interpreter, std::string_view name, const Value& input,
                       CallArgs args);

// `value.name` when `value` (a str, dict or list) has a method of that name: the bound
// method, or for methods that would change the value, an undefined value whose use is an
// error, as in Jinja2's immutable sandbox. nullopt when there is no such method.
std::optional<Value> LookupMethod(const Value& value, std::string_view name);

// The global functions, before the render context's own variables.
std::vector<std::pair<std::string, Value>> Globals();

// Python's `format % args` (printf-style) and `format.format(*args, **kwargs)` for str.
// With `markup` (a Markup format string), the text of string arguments is HTML-escaped.
Result<std::string> PercentFormat(std::string_view format, const Value& args, bool markup = false);
Result<std::string> StrFormat(std::string_view format, const CallArgs& args, bool markup = false);

}  // namespace wick::jinja
