// Filters on text and numbers, and the filter registry. Each follows its Jinja2 3.1
// definition (jinja2/filters.py), tojson follows transformers' override.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/float_chars.h"
#include "text/jinja/builtins.h"
#include "text/jinja/filter_table.h"
#include "text/jinja/json.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

Result<std::vector<Value>> Bind(std::string_view filter, CallArgs args,
                                std::initializer_list<Param> params) {
  return BindArgs(fmt::format("filter '{}'", filter), std::move(args), params);
}

// Text of a filter argument that Python would use as a str.
Result<std::string> StringArg(std::string_view filter, std::string_view param, const Value& value) {
  if (value.is_string()) return value.str();
  if (value.is_undefined()) return UndefinedError(value);
  return RenderError(
      fmt::format("filter '{}': {} must be a string, not {}", filter, param, TypeName(value)));
}

Result<int64_t> IntArg(std::string_view filter, std::string_view param, const Value& value) {
  if (value.is_int()) return value.as_int();
  if (value.is_undefined()) return UndefinedError(value);
  return RenderError(
      fmt::format("filter '{}': {} must be an integer, not {}", filter, param, TypeName(value)));
}

std::string StripUnderscores(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_' && i > 0 && i + 1 < text.size()) continue;
    out += text[i];
  }
  return out;
}

// Python's float(str).
std::optional<double> ParsePyFloat(std::string_view text) {
  std::string s = StripUnderscores(PyStrip(text, std::nullopt, true, true));
  if (s.empty()) return std::nullopt;
  bool negative = false;
  size_t start = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    start = 1;
  }
  double value = 0;
  const char* begin = s.data() + start;
  const char* end = s.data() + s.size();
  const auto result = ParseDouble(begin, end, value);
  if (result.ptr != end || begin == end) return std::nullopt;
  if (result.ec == std::errc::result_out_of_range) {
    value = std::string_view(s).find_first_of("eE") != std::string::npos &&
                    std::string_view(s).find("e-") == std::string::npos &&
                    std::string_view(s).find("E-") == std::string::npos
                ? HUGE_VAL
                : 0.0;
  }
  return negative ? -value : value;
}

// Python's int(str, base).
std::optional<int64_t> ParsePyInt(std::string_view text, int base) {
  std::string s = PyStrip(text, std::nullopt, true, true);
  bool negative = false;
  size_t start = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    start = 1;
  }
  if (s.size() >= start + 2 && s[start] == '0') {
    const char prefix = static_cast<char>(s[start + 1] | 0x20);
    if ((prefix == 'x' && base == 16) || (prefix == 'o' && base == 8) ||
        (prefix == 'b' && base == 2)) {
      start += 2;
      if (start < s.size() && s[start] == '_') ++start;
    }
  }
  std::string digits = StripUnderscores(std::string_view(s).substr(start));
  if (digits.empty() || digits.find('_') != std::string::npos) return std::nullopt;
  uint64_t magnitude = 0;
  const auto result =
      std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (result.ptr != digits.data() + digits.size() || result.ec != std::errc()) return std::nullopt;
  if (magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  const auto value = static_cast<int64_t>(magnitude);
  return negative ? -value : value;
}

Result<Value> Abs(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("abs", std::move(args), {}));
  if (input.type() == Value::Type::kFloat) return Value::Float(std::fabs(input.as_float()));
  if (input.is_int()) {
    if (input.as_int() == INT64_MIN) return Error(ErrorCode::kUnsupported, "integer overflow");
    return Value::Int(std::abs(input.as_int()));
  }
  return RenderError(fmt::format("bad operand type for abs(): '{}'", TypeName(input)));
}

Result<Value> Attr(Interpreter& interpreter, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("attr", std::move(args), {{"name", {}, true}}));
  WICK_ASSIGN_OR_RETURN(std::string name, StringArg("attr", "name", a[0]));
  // Only real attributes: unlike `x.name`, no fallback to dict keys.
  if (input.is_dict() && !LookupMethod(input, name)) {
    return Value::Undefined(fmt::format("'dict object' has no attribute '{}'", name));
  }
  return interpreter.GetAttr(input, name);
}

Result<Value> Capitalize(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("capitalize", std::move(args), {}));
  return Value::StringLike(input, PyCapitalize(ToStr(input)));
}

Result<Value> Center(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("center", std::move(args), {{"width", Value::Int(80)}}));
  WICK_ASSIGN_OR_RETURN(int64_t width, IntArg("center", "width", a[0]));
  WICK_RETURN_IF_ERROR(CheckLength(width));
  return Value::StringLike(input, PyPad(ToStr(input), width, 0));
}

Result<Value> Default(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(
      auto a, Bind("default", std::move(args),
                   {{"default_value", Value::String("")}, {"boolean", Value::Bool(false)}}));
  if (input.is_undefined() || (Truthy(a[1]) && !Truthy(input))) return a[0];
  return input;
}

// markupsafe.escape: a Markup string is already safe and stays as it is.
Result<Value> Escape(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("escape", std::move(args), {}));
  if (input.is_markup()) return input;
  return Value::Markup(EscapeHtml(ToStr(input)));
}

Result<Value> ForceEscape(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("forceescape", std::move(args), {}));
  return Value::Markup(EscapeHtml(ToStr(input)));
}

Result<Value> Float(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("float", std::move(args), {{"default", Value::Float(0.0)}}));
  if (input.is_undefined()) return UndefinedError(input);
  if (input.is_number()) return Value::Float(input.as_float());
  if (input.is_string()) {
    if (std::optional<double> value = ParsePyFloat(input.str())) return Value::Float(*value);
  }
  return a[0];
}

Result<Value> Int(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(
      auto a, Bind("int", std::move(args), {{"default", Value::Int(0)}, {"base", Value::Int(10)}}));
  WICK_ASSIGN_OR_RETURN(int64_t base, IntArg("int", "base", a[1]));
  if (input.is_undefined()) return UndefinedError(input);
  if (input.is_int()) return Value::Int(input.as_int());
  std::optional<double> as_float;
  if (input.type() == Value::Type::kFloat) {
    as_float = input.as_float();
  } else if (input.is_string()) {
    if (base >= 2 && base <= 36) {
      if (std::optional<int64_t> value = ParsePyInt(input.str(), static_cast<int>(base))) {
        return Value::Int(*value);
      }
    }
    as_float = ParsePyFloat(input.str());  // "42.23"|int is 42
  }
  if (as_float && std::isfinite(*as_float) && std::fabs(*as_float) < 9.2e18) {
    return Value::Int(static_cast<int64_t>(std::trunc(*as_float)));
  }
  return a[0];
}

Result<Value> Format(Interpreter&, const Value& input, CallArgs args) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    return RenderError("can't handle positional and keyword arguments at the same time");
  }
  Value values;
  if (!args.keyword.empty()) {
    DictData dict;
    for (auto& [key, value] : args.keyword) dict.Set(Value::String(key), std::move(value));
    values = Value::Dict(std::move(dict));
  } else {
    values = Value::Tuple(std::move(args.positional));
  }
  WICK_ASSIGN_OR_RETURN(std::string text, PercentFormat(ToStr(input), values, input.is_markup()));
  return Value::StringLike(input, std::move(text));
}

Result<Value> Indent(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("indent", std::move(args),
                                     {{"width", Value::Int(4)},
                                      {"first", Value::Bool(false)},
                                      {"blank", Value::Bool(false)}}));
  if (input.is_undefined()) return UndefinedError(input);
  if (!input.is_string()) {
    // Jinja2 appends "\n" to the value with +=, which only a str survives.
    if (input.is_seq() && input.seq().kind == SeqKind::kList) {
      return RenderError("'list' object has no attribute 'splitlines'");
    }
    return RenderError(
        fmt::format("unsupported operand type(s) for +=: '{}' and 'str'", TypeName(input)));
  }
  std::string indention;
  if (a[0].is_string()) {
    indention = a[0].str();
  } else {
    WICK_ASSIGN_OR_RETURN(int64_t width, IntArg("indent", "width", a[0]));
    WICK_RETURN_IF_ERROR(CheckLength(width));
    indention.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  // Jinja2 appends a newline before splitting, so a trailing newline yields no extra line.
  const std::vector<std::string> lines = PySplitLines(ToStr(input) + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (Truthy(a[2]) || !lines[i].empty()) out += indention;
    }
    out += lines[i];
    WICK_RETURN_IF_ERROR(CheckLength(static_cast<int64_t>(out.size())));
  }
  if (Truthy(a[1])) out = indention + out;
  return Value::String(std::move(out));
}

Result<Value> Lower(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("lower", std::move(args), {}));
  return Value::StringLike(input, PyLower(ToStr(input)));
}

Result<Value> Upper(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("upper", std::move(args), {}));
  return Value::StringLike(input, PyUpper(ToStr(input)));
}

// pprint.pformat sorts dict keys; like it, this prints repr() with sorted dicts (but does not
// wrap values longer than 80 columns over several lines as pformat does).
Value SortDictKeys(const Value& value) {
  if (value.is_seq() && !value.seq().is_iterator()) {
    std::vector<Value> items;
    for (const Value& item : value.seq().items) items.push_back(SortDictKeys(item));
    return Value::Seq(value.seq().kind, std::move(items));
  }
  if (!value.is_dict()) return value;
  std::vector<std::pair<Value, Value>> entries = value.dict().entries();
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const Result<int> c = Compare(a.first, b.first, "<");
    return c.ok() && *c < 0;
  });
  DictData sorted;
  for (auto& [key, item] : entries) sorted.Set(std::move(key), SortDictKeys(item));
  return Value::Dict(std::move(sorted));
}

Result<Value> Pprint(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("pprint", std::move(args), {}));
  return Value::String(Repr(SortDictKeys(input)));
}

Result<Value> Replace(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(
      auto a, Bind("replace", std::move(args), {{"old", {}, true}, {"new", {}, true}, {"count"}}));
  int64_t count = -1;
  if (!a[2].is_none()) {
    WICK_ASSIGN_OR_RETURN(count, IntArg("replace", "count", a[2]));
  }
  const std::string text = ToStr(input);
  const std::string old_text = ToStr(a[0]);
  const std::string new_text = ToStr(a[1]);
  WICK_RETURN_IF_ERROR(CheckReplace(text, old_text, new_text, count));
  return Value::String(PyReplace(text, old_text, new_text, count));
}

// Python's round(x, ndigits) for a float: the decimal nearest to the exact binary value,
// ties to even, which is what a correctly rounded fixed-point conversion gives.
double RoundFloat(double value, int64_t digits) {
  if (!std::isfinite(value)) return value;
  if (digits < 0) {
    const double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(value / scale) * scale;
  }
  if (digits > 300) return value;
  const std::string text = fmt::format("{:.{}f}", value, digits);
  double rounded = 0;
  ParseDouble(text.data(), text.data() + text.size(), rounded);
  return rounded;
}

Result<Value> Round(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("round", std::move(args),
                             {{"precision", Value::Int(0)}, {"method", Value::String("common")}}));
  WICK_ASSIGN_OR_RETURN(int64_t precision, IntArg("round", "precision", a[0]));
  WICK_ASSIGN_OR_RETURN(std::string method, StringArg("round", "method", a[1]));
  if (method != "common" && method != "ceil" && method != "floor") {
    return RenderError("method must be common, ceil or floor");
  }
  if (!input.is_number()) {
    return RenderError(fmt::format("type {} doesn't define __round__ method", TypeName(input)));
  }
  if (method == "common") {
    if (input.is_int() && precision >= 0) return Value::Int(input.as_int());
    return Value::Float(RoundFloat(input.as_float(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = input.as_float() * scale;
  return Value::Float((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Result<Value> Safe(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("safe", std::move(args), {}));
  if (input.is_markup()) return input;
  return Value::Markup(ToStr(input));
}

Result<Value> String(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("string", std::move(args), {}));
  if (input.is_string()) return input;  // a Markup string stays one
  return Value::String(ToStr(input));
}

// Jinja2's title filter (not str.title()): words start after `-`, whitespace or an opening
// bracket, and each word is its first character uppercased and the rest lowercased.
Result<Value> Title(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("title", std::move(args), {}));
  const std::vector<uint32_t> cps = CodePoints(ToStr(input));
  auto separator = [](uint32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || IsPySpace(cp);
  };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    const bool in_separator = separator(cps[i]);
    while (j < cps.size() && separator(cps[j]) == in_separator) ++j;
    const std::string part = FromCodePoints(cps, i, j);
    if (in_separator) {
      out += part;
    } else {
      out += PyUpper(FromCodePoints(cps, i, i + 1)) + PyLower(FromCodePoints(cps, i + 1, j));
    }
    i = j;
  }
  return Value::String(std::move(out));
}

Result<Value> ToJsonFilter(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("tojson", std::move(args),
                                     {{"ensure_ascii", Value::Bool(false)},
                                      {"indent"},
                                      {"separators"},
                                      {"sort_keys", Value::Bool(false)}}));
  JsonOptions options;
  options.ensure_ascii = Truthy(a[0]);
  options.sort_keys = Truthy(a[3]);
  if (a[1].is_string()) {
    options.indent = a[1].str();
  } else if (a[1].is_int()) {
    WICK_RETURN_IF_ERROR(CheckLength(a[1].as_int()));
    options.indent = std::string(static_cast<size_t>(std::max<int64_t>(a[1].as_int(), 0)), ' ');
  } else if (!a[1].is_none()) {
    return RenderError(
        fmt::format("tojson: indent must be an int or a str, not {}", TypeName(a[1])));
  }
  if (!a[2].is_none()) {
    WICK_ASSIGN_OR_RETURN(std::vector<Value> parts, Iterate(a[2]));
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      return RenderError("tojson: separators must be a pair of strings");
    }
    options.item_separator = parts[0].str();
    options.key_separator = parts[1].str();
  }
  WICK_ASSIGN_OR_RETURN(std::string text, ToJson(input, options));
  return Value::String(std::move(text));
}

Result<Value> Trim(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("trim", std::move(args), {{"chars"}}));
  std::optional<std::string> chars;
  if (!a[0].is_none()) {
    WICK_ASSIGN_OR_RETURN(chars, StringArg("trim", "chars", a[0]));
  }
  return Value::StringLike(input, PyStrip(ToStr(input), chars, true, true));
}

Result<Value> Truncate(Interpreter&, const Value& input, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("truncate", std::move(args),
                                     {{"length", Value::Int(255)},
                                      {"killwords", Value::Bool(false)},
                                      {"end", Value::String("...")},
                                      {"leeway", Value::Int(5)}}));
  WICK_ASSIGN_OR_RETURN(int64_t length, IntArg("truncate", "length", a[0]));
  const std::string end = ToStr(a[2]);
  int64_t leeway = 5;
  if (!a[3].is_none()) {
    WICK_ASSIGN_OR_RETURN(leeway, IntArg("truncate", "leeway", a[3]));
  }
  const auto end_length = static_cast<int64_t>(CodePointCount(end));
  if (length < end_length) {
    return RenderError(fmt::format("expected length >= {}, got {}", end_length, length));
  }
  if (leeway < 0) return RenderError(fmt::format("expected leeway >= 0, got {}", leeway));
  if (!input.is_string()) {
    // len() of the value decides whether there is anything to cut; only a str can be cut.
    WICK_ASSIGN_OR_RETURN(int64_t size, jinja::Length(input));
    if (size <= length + leeway) return input;
    return RenderError(fmt::format("'{}' object has no attribute 'rsplit'", TypeName(input)));
  }
  const std::vector<uint32_t> cps = CodePoints(input.str());
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return input;
  std::string kept = FromCodePoints(cps, 0, static_cast<size_t>(length - end_length));
  if (!Truthy(a[1])) {
    const size_t space = kept.rfind(' ');
    if (space != std::string::npos) kept.resize(space);
  }
  return Value::String(kept + end);
}

Result<Value> WordCount(Interpreter&, const Value& input, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("wordcount", std::move(args), {}));
  int64_t count = 0;
  bool in_word = false;
  for (uint32_t cp : CodePoints(ToStr(input))) {
    const bool word = IsPyWordChar(cp);
    if (word && !in_word) ++count;
    in_word = word;
  }
  return Value::Int(count);
}

constexpr FilterEntry kTextFilters[] = {
    {"abs", Abs},
    {"attr", Attr},
    {"capitalize", Capitalize},
    {"center", Center},
    {"d", Default},
    {"default", Default},
    {"e", Escape},
    {"escape", Escape},
    {"float", Float},
    {"forceescape", ForceEscape},
    {"format", Format},
    {"indent", Indent},
    {"int", Int},
    {"lower", Lower},
    {"pprint", Pprint},
    {"replace", Replace},
    {"round", Round},
    {"safe", Safe},
    {"string", String},
    {"title", Title},
    {"tojson", ToJsonFilter},
    {"trim", Trim},
    {"truncate", Truncate},
    {"upper", Upper},
    {"wordcount", WordCount},
};

const FilterEntry* FindFilter(std::string_view name) {
  for (std::span<const FilterEntry> table : {TextFilters(), SequenceFilters()}) {
    for (const FilterEntry& entry : table) {
      if (entry.name == name) return &entry;
    }
  }
  return nullptr;
}

}  // namespace

std::span<const FilterEntry> TextFilters() {
  return kTextFilters;
}

AttrGetter::AttrGetter(std::string_view attribute) {
  if (attribute.empty()) return;
  size_t start = 0;
  while (true) {
    const size_t dot = attribute.find('.', start);
    const std::string_view part = attribute.substr(start, dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    std::optional<int64_t> index = digits ? ParsePyInt(part, 10) : std::nullopt;
    parts_.push_back(index ? Value::Int(*index) : Value::String(std::string(part)));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

AttrGetter::AttrGetter(const Value& attribute) {
  if (attribute.is_string()) {
    *this = AttrGetter(std::string_view(attribute.str()));
  } else if (!attribute.is_none()) {
    parts_.push_back(attribute);
  }
}

Result<Value> AttrGetter::Get(const Interpreter& interpreter, const Value& item) const {
  Value value = item;
  for (const Value& part : parts_) {
    WICK_ASSIGN_OR_RETURN(value, interpreter.GetItem(value, part));
  }
  return value;
}

Value IgnoreCase(const Value& value) {
  return value.is_string() ? Value::String(PyLower(value.str())) : value;
}

bool IsKnownFilter(std::string_view name) {
  return FindFilter(name) != nullptr;
}

Result<Value> ApplyFilter(Interpreter& interpreter, std::string_view name, const Value& input,
                          CallArgs args) {
  const FilterEntry* entry = FindFilter(name);
  if (entry == nullptr) return RenderError(fmt::format("no filter named '{}'", name));
  int64_t work = 1 + WorkOf(input);
  for (const Value& arg : args.positional) work += WorkOf(arg);
  WICK_RETURN_IF_ERROR(interpreter.Step(work));
  return entry->fn(interpreter, input, std::move(args));
}

}  // namespace wick::jinja
