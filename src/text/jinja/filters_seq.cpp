// Filters on sequences and dicts. Like Jinja2, map/select/reject/selectattr/rejectattr,
// unique, batch, slice and items give one-shot generators (truthy even when empty, without a
// length), so `|list` is needed where a template wants a list.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_set>

#include "text/jinja/builtins.h"
#include "text/jinja/filter_table.h"
#include "text/jinja/operators.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

Result<std::vector<Value>> Bind(std::string_view filter, CallArgs args,
                                std::initializer_list<Param> params) {
  return BindArgs(fmt::format("filter '{}'", filter), std::move(args), params);
}

Value Generator(std::vector<Value> items) {
  return Value::Seq(SeqKind::kGenerator, std::move(items));
}

Result<int> CompareKeys(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (Equals(a[i], b[i])) continue;
    return Compare(a[i], b[i], "<");
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// Sorts `items` by `keys` stably (Python's sorted), reversed if asked; the first failing
// comparison is the error.
Status SortByKeys(std::vector<Value>* items, std::vector<std::vector<Value>> keys, bool reverse) {
  std::vector<size_t> order(items->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::optional<Error> error;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (error) return false;
    Result<int> c = reverse ? CompareKeys(keys[b], keys[a]) : CompareKeys(keys[a], keys[b]);
    if (!c.ok()) {
      error = c.error();
      return false;
    }
    return *c < 0;
  });
  if (error) return *error;
  std::vector<Value> sorted;
  sorted.reserve(items->size());
  for (size_t i : order) sorted.push_back(std::move((*items)[i]));
  *items = std::move(sorted);
  return OkStatus();
}

Result<Value> Batch(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("batch", std::move(args), {{"linecount", {}, true}, {"fill_with"}}));
  if (!a[0].is_int() || a[0].as_int() < 1 || static_cast<uint64_t>(a[0].as_int()) > kMaxItems) {
    return RenderError("filter 'batch': linecount must be a positive integer");
  }
  const auto size = static_cast<size_t>(a[0].as_int());
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::vector<Value> batches;
  for (size_t i = 0; i < items.size(); i += size) {
    std::vector<Value> batch(
        items.begin() + static_cast<ptrdiff_t>(i),
        items.begin() + static_cast<ptrdiff_t>(std::min(i + size, items.size())));
    if (!a[1].is_none()) batch.resize(size, a[1]);
    batches.push_back(Value::List(std::move(batch)));
  }
  return Generator(std::move(batches));
}

Result<Value> LengthFilter(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("length", std::move(args), {}));
  WICK_ASSIGN_OR_RETURN(int64_t length, jinja::Length(input));
  return Value::Int(length);
}

Result<Value> DictSort(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("dictsort", std::move(args),
                                     {{"case_sensitive", Value::Bool(false)},
                                      {"by", Value::String("key")},
                                      {"reverse", Value::Bool(false)}}));
  if (input.is_undefined()) return UndefinedError(input);
  if (!input.is_dict()) {
    return RenderError(fmt::format("'{}' object has no attribute 'items'", TypeName(input)));
  }
  if (!a[1].is_string() || (a[1].str() != "key" && a[1].str() != "value")) {
    return RenderError("You can only sort by either \"key\" or \"value\"");
  }
  const bool by_value = a[1].str() == "value";
  std::vector<Value> items;
  std::vector<std::vector<Value>> keys;
  for (const auto& [key, value] : input.dict().entries()) {
    items.push_back(Value::Tuple({key, value}));
    const Value& sort_key = by_value ? value : key;
    keys.push_back({Truthy(a[0]) ? sort_key : IgnoreCase(sort_key)});
  }
  WICK_RETURN_IF_ERROR(SortByKeys(&items, std::move(keys), Truthy(a[2])));
  return Value::List(std::move(items));
}

Result<Value> First(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("first", std::move(args), {}));
  if (input.is_seq() && input.seq().is_iterator()) {
    const SeqData& seq = input.seq();
    if (seq.consumed < seq.items.size()) return seq.items[seq.consumed++];
  } else {
    WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
    if (!items.empty()) return items.front();
  }
  return Value::Undefined("No first item, sequence was empty.");
}

Result<Value> Last(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("last", std::move(args), {}));
  if ((input.is_seq() && input.seq().is_iterator()) || input.is_object() || input.is_none() ||
      input.is_number()) {
    return RenderError(fmt::format("'{}' object is not reversible", TypeName(input)));
  }
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> Items(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("items", std::move(args), {}));
  if (input.is_undefined()) return Generator({});
  if (!input.is_dict()) return RenderError("Can only get item pairs from a mapping.");
  std::vector<Value> pairs;
  for (const auto& [key, value] : input.dict().entries())
    pairs.push_back(Value::Tuple({key, value}));
  return Generator(std::move(pairs));
}

Result<Value> Join(Interpreter& interpreter, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("join", std::move(args), {{"d", Value::String("")}, {"attribute"}}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  const AttrGetter getter(a[1]);
  const std::string separator = ToStr(a[0]);
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    WICK_ASSIGN_OR_RETURN(Value item, getter.Get(interpreter, items[i]));
    out += ToStr(item);
    WICK_RETURN_IF_ERROR(interpreter.CheckSize(out.size()));
  }
  return Value::String(std::move(out));
}

Result<Value> List(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("list", std::move(args), {}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  return Value::List(std::move(items));
}

Result<Value> Map(Interpreter& interpreter, const Value& input, CallArgs args) {
  if (!Truthy(input)) return Generator({});
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::vector<Value> mapped;
  mapped.reserve(items.size());
  if (args.positional.empty()) {
    std::optional<Value> attribute;
    Value fallback = Value::None();
    for (auto& [key, value] : args.keyword) {
      if (key == "attribute") {
        attribute = value;
      } else if (key == "default") {
        fallback = value;
      } else {
        return RenderError(fmt::format("Unexpected keyword argument '{}'", key));
      }
    }
    if (!attribute) return RenderError("map requires a filter argument");
    const AttrGetter getter(*attribute);
    for (const Value& item : items) {
      WICK_ASSIGN_OR_RETURN(Value value, getter.Get(interpreter, item));
      if (value.is_undefined() && !fallback.is_none()) value = fallback;
      mapped.push_back(std::move(value));
    }
    return Generator(std::move(mapped));
  }
  if (!args.positional.front().is_string()) {
    return RenderError("map: the filter name must be a string");
  }
  const std::string name = args.positional.front().str();
  args.positional.erase(args.positional.begin());
  for (const Value& item : items) {
    WICK_ASSIGN_OR_RETURN(Value value, ApplyFilter(interpreter, name, item, args));
    mapped.push_back(std::move(value));
  }
  return Generator(std::move(mapped));
}

Result<Value> MinMax(Interpreter& interpreter, const Value& input, CallArgs args, bool max) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind(max ? "max" : "min", std::move(args),
                                     {{"case_sensitive", Value::Bool(false)}, {"attribute"}}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  const AttrGetter getter(a[1]);
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    WICK_ASSIGN_OR_RETURN(Value key, getter.Get(interpreter, items[i]));
    if (!Truthy(a[0])) key = IgnoreCase(key);
    if (i > 0) {
      WICK_ASSIGN_OR_RETURN(int c, Compare(key, best_key, max ? ">" : "<"));
      if (max ? c <= 0 : c >= 0) continue;
    }
    best = i;
    best_key = std::move(key);
  }
  return items[best];
}

Result<Value> Max(Interpreter& interpreter, const Value& input, CallArgs args) {
  return MinMax(interpreter, input, std::move(args), true);
}

Result<Value> Min(Interpreter& interpreter, const Value& input, CallArgs args) {
  return MinMax(interpreter, input, std::move(args), false);
}

// select, reject, selectattr and rejectattr.
Result<Value> SelectOrReject(Interpreter& interpreter, const Value& input, CallArgs args,
                             bool select, bool by_attribute) {
  if (!Truthy(input)) return Generator({});
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::optional<AttrGetter> getter;
  size_t next = 0;
  if (by_attribute) {
    if (args.positional.empty()) return RenderError("Missing parameter for attribute name");
    getter.emplace(args.positional.front());
    next = 1;
  }
  std::optional<std::string> test;
  if (args.positional.size() > next) {
    if (!args.positional[next].is_string()) return RenderError("the test name must be a string");
    test = args.positional[next].str();
    ++next;
  }
  CallArgs test_args;
  test_args.positional.assign(
      args.positional.begin() + static_cast<ptrdiff_t>(std::min(next, args.positional.size())),
      args.positional.end());
  test_args.keyword = std::move(args.keyword);
  std::vector<Value> kept;
  for (Value& item : items) {
    Value subject = item;
    if (getter) {
      WICK_ASSIGN_OR_RETURN(subject, getter->Get(interpreter, item));
    }
    bool passed = false;
    if (test) {
      WICK_ASSIGN_OR_RETURN(passed, ApplyTest(interpreter, *test, subject, test_args));
    } else {
      passed = Truthy(subject);
    }
    if (passed == select) kept.push_back(std::move(item));
  }
  return Generator(std::move(kept));
}

Result<Value> Select(Interpreter& interpreter, const Value& input, CallArgs args) {
  return SelectOrReject(interpreter, input, std::move(args), true, false);
}
Result<Value> Reject(Interpreter& interpreter, const Value& input, CallArgs args) {
  return SelectOrReject(interpreter, input, std::move(args), false, false);
}
Result<Value> SelectAttr(Interpreter& interpreter, const Value& input, CallArgs args) {
  return SelectOrReject(interpreter, input, std::move(args), true, true);
}
Result<Value> RejectAttr(Interpreter& interpreter, const Value& input, CallArgs args) {
  return SelectOrReject(interpreter, input, std::move(args), false, true);
}

Result<Value> Reverse(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("reverse", std::move(args), {}));
  if (input.is_string()) {
    std::vector<uint32_t> cps = CodePoints(input.str());
    std::reverse(cps.begin(), cps.end());
    return Value::String(FromCodePoints(cps, 0, cps.size()));
  }
  if (!input.is_seq() && !input.is_dict() && !input.is_undefined()) {
    return RenderError("argument must be iterable");
  }
  const bool from_iterator = input.is_seq() && input.seq().is_iterator();
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::reverse(items.begin(), items.end());
  // A generator cannot be reversed in place; Jinja2 then makes a list of it.
  if (from_iterator) return Value::List(std::move(items));
  return Value::Seq(SeqKind::kReverseIterator, std::move(items));
}

Result<Value> Slice(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("slice", std::move(args), {{"slices", {}, true}, {"fill_with"}}));
  if (!a[0].is_int() || a[0].as_int() < 1 || static_cast<uint64_t>(a[0].as_int()) > kMaxItems) {
    return RenderError("filter 'slice': slices must be a positive integer");
  }
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  const auto slices = static_cast<size_t>(a[0].as_int());
  const size_t per_slice = items.size() / slices;
  const size_t with_extra = items.size() % slices;
  std::vector<Value> out;
  size_t offset = 0;
  for (size_t n = 0; n < slices; ++n) {
    const size_t start = offset + n * per_slice;
    if (n < with_extra) ++offset;
    const size_t end = offset + (n + 1) * per_slice;
    std::vector<Value> part(items.begin() + static_cast<ptrdiff_t>(start),
                            items.begin() + static_cast<ptrdiff_t>(end));
    if (!a[1].is_none() && n >= with_extra) part.push_back(a[1]);
    out.push_back(Value::List(std::move(part)));
  }
  return Generator(std::move(out));
}

Result<Value> Sort(Interpreter& interpreter, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("sort", std::move(args),
                                     {{"reverse", Value::Bool(false)},
                                      {"case_sensitive", Value::Bool(false)},
                                      {"attribute"}}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  // "age,name" sorts by several attributes.
  std::vector<AttrGetter> getters;
  if (a[2].is_string()) {
    for (const std::string& part : PySplit(a[2].str(), std::string(","), -1)) {
      getters.emplace_back(std::string_view(part));
    }
  } else {
    getters.emplace_back(a[2]);
  }
  std::vector<std::vector<Value>> keys;
  for (const Value& item : items) {
    std::vector<Value> key;
    for (const AttrGetter& getter : getters) {
      WICK_ASSIGN_OR_RETURN(Value part, getter.Get(interpreter, item));
      key.push_back(Truthy(a[1]) ? part : IgnoreCase(part));
    }
    keys.push_back(std::move(key));
  }
  WICK_RETURN_IF_ERROR(SortByKeys(&items, std::move(keys), Truthy(a[0])));
  return Value::List(std::move(items));
}

Result<Value> Sum(Interpreter& interpreter, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("sum", std::move(args), {{"attribute"}, {"start", Value::Int(0)}}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  const AttrGetter getter(a[0]);
  Value total = a[1];
  for (const Value& item : items) {
    WICK_ASSIGN_OR_RETURN(Value value, getter.Get(interpreter, item));
    WICK_ASSIGN_OR_RETURN(total, BinaryOperation(BinaryOp::kAdd, total, value));
  }
  return total;
}

// A text that equal hashable values share (1, 1.0 and True are one key, as in Python).
Result<std::string> HashKey(const Value& value) {
  switch (value.type()) {
    case Value::Type::kNone:
      return std::string("n");
    case Value::Type::kBool:
    case Value::Type::kInt:
      return "i" + std::to_string(value.as_int());
    case Value::Type::kFloat: {
      const double x = value.as_float();
      if (x == std::trunc(x) && std::fabs(x) < 9e18) {
        return "i" + std::to_string(static_cast<int64_t>(x));
      }
      return "f" + FormatFloat(x);
    }
    case Value::Type::kString:
      return "s" + value.str();
    case Value::Type::kSeq:
      if (value.seq().kind == SeqKind::kTuple) {
        std::string key = "t(";
        for (const Value& item : value.seq().items) {
          WICK_ASSIGN_OR_RETURN(std::string part, HashKey(item));
          key += std::to_string(part.size()) + ":" + part;
        }
        return key + ")";
      }
      break;
    case Value::Type::kObject:
      return fmt::format("o{}", static_cast<const void*>(&value.object()));
    default:
      break;
  }
  return RenderError(fmt::format("unhashable type: '{}'", TypeName(value)));
}

Result<Value> Unique(Interpreter& interpreter, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("unique", std::move(args),
                                     {{"case_sensitive", Value::Bool(false)}, {"attribute"}}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  const AttrGetter getter(a[1]);
  std::unordered_set<std::string> seen;
  std::vector<Value> kept;
  for (Value& item : items) {
    WICK_ASSIGN_OR_RETURN(Value key, getter.Get(interpreter, item));
    if (!Truthy(a[0])) key = IgnoreCase(key);
    WICK_ASSIGN_OR_RETURN(std::string hash, HashKey(key));
    if (seen.insert(std::move(hash)).second) kept.push_back(std::move(item));
  }
  return Generator(std::move(kept));
}

constexpr FilterEntry kSequenceFilters[] = {
    {"batch", Batch},
    {"count", LengthFilter},
    {"dictsort", DictSort},
    {"first", First},
    {"items", Items},
    {"join", Join},
    {"last", Last},
    {"length", LengthFilter},
    {"list", List},
    {"map", Map},
    {"max", Max},
    {"min", Min},
    {"reject", Reject},
    {"rejectattr", RejectAttr},
    {"reverse", Reverse},
    {"select", Select},
    {"selectattr", SelectAttr},
    {"slice", Slice},
    {"sort", Sort},
    {"sum", Sum},
    {"unique", Unique},
};

}  // namespace

std::span<const FilterEntry> SequenceFilters() {
  return kSequenceFilters;
}

}  // namespace wick::jinja
