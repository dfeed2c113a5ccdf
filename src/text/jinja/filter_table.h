// Shared pieces of the filter implementations (filters.cpp: text and numbers,
// filters_seq.cpp: sequences), and the tables the two files contribute.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/value.h"

namespace wick::jinja {

using FilterFn = Result<Value> (*)(Interpreter& interpreter, const Value& input, CallArgs args);

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

std::span<const FilterEntry> TextFilters();
std::span<const FilterEntry> SequenceFilters();

// Looks up `attribute` ("a.b.0": dots descend, digits index lists) in items as Jinja2's
// make_attrgetter does, with environment.getitem (keys first, then attributes).
class AttrGetter {
 public:
  // An empty `attribute` gives the item itself.
  explicit AttrGetter(std::string_view attribute);
  explicit AttrGetter(const Value& attribute);
  Result<Value> Get(const Interpreter& interpreter, const Value& item) const;

 private:
  std::vector<Value> parts_;
};

// Strings lowercased, other values as they are: Jinja2's ignore_case.
Value IgnoreCase(const Value& value);

}  // namespace wick::jinja
