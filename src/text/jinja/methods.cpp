// Methods of str, dict, list and tuple that templates call (`content.strip()`,
// `message.get('x')`, `tool.items()`). Methods that would change a dict or list are refused,
// as Jinja2's ImmutableSandboxedEnvironment (what transformers uses) refuses them.
#include <fmt/format.h>

#include <algorithm>

#include "text/jinja/builtins.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

using Method = Function::Fn;

struct MethodEntry {
  std::string_view name;
  Method fn;
};

Result<std::vector<Value>> Bind(std::string_view method, CallArgs args,
                                std::initializer_list<Param> params) {
  return BindArgs(fmt::format("{}()", method), std::move(args), params);
}

Result<std::optional<std::string>> OptionalString(std::string_view method, const Value& value) {
  if (value.is_none()) return std::optional<std::string>();
  if (value.is_string()) return std::optional<std::string>(value.str());
  return RenderError(fmt::format("{}() arg must be None or str, not {}", method, TypeName(value)));
}

Result<std::string> StringArg(std::string_view method, const Value& value) {
  if (value.is_string()) return value.str();
  return RenderError(fmt::format("{}() argument must be str, not {}", method, TypeName(value)));
}

Value StringList(const Value& self, const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (const std::string& part : parts) items.push_back(Value::StringLike(self, part));
  return Value::List(std::move(items));
}

// s[start:end] for the optional start/end arguments of find, count, startswith...
std::string SubRange(const std::string& s, const Value& start, const Value& end) {
  if ((start.is_none() || start.is_undefined()) && (end.is_none() || end.is_undefined())) return s;
  const std::vector<uint32_t> cps = CodePoints(s);
  const auto n = static_cast<int64_t>(cps.size());
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (!v.is_int()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i += n;
    return std::clamp<int64_t>(i, 0, n);
  };
  const int64_t b = clamp(start, 0);
  const int64_t e = clamp(end, n);
  if (b >= e) return "";
  return FromCodePoints(cps, static_cast<size_t>(b), static_cast<size_t>(e));
}

template <bool kLeft, bool kRight>
Result<Value> Strip(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("strip", std::move(args), {{"chars"}}));
  WICK_ASSIGN_OR_RETURN(auto chars, OptionalString("strip", a[0]));
  return Value::StringLike(self, PyStrip(self.str(), chars, kLeft, kRight));
}

template <bool kReverse>
Result<Value> Split(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("split", std::move(args), {{"sep"}, {"maxsplit", Value::Int(-1)}}));
  WICK_ASSIGN_OR_RETURN(auto sep, OptionalString("split", a[0]));
  if (sep && sep->empty()) return RenderError("empty separator");
  if (!a[1].is_int()) return RenderError("split(): maxsplit must be an integer");
  return StringList(self, kReverse ? PyRSplit(self.str(), sep, a[1].as_int())
                                   : PySplit(self.str(), sep, a[1].as_int()));
}

Result<Value> SplitLines(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("splitlines", std::move(args), {{"keepends", Value::Bool(false)}}));
  return StringList(self, PySplitLines(self.str(), Truthy(a[0])));
}

// startswith / endswith with a str or a tuple of them.
template <bool kEnd>
Result<Value> AffixTest(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind(kEnd ? "endswith" : "startswith", std::move(args),
                                     {{"affix", {}, true}, {"start"}, {"end"}}));
  const std::string s = SubRange(self.str(), a[1], a[2]);
  std::vector<Value> options;
  if (a[0].is_seq() && a[0].seq().kind == SeqKind::kTuple) {
    options = a[0].seq().items;
  } else {
    options.push_back(a[0]);
  }
  for (const Value& option : options) {
    WICK_ASSIGN_OR_RETURN(std::string affix, StringArg(kEnd ? "endswith" : "startswith", option));
    const bool match = affix.size() <= s.size() &&
                       (kEnd ? s.compare(s.size() - affix.size(), affix.size(), affix) == 0
                             : s.compare(0, affix.size(), affix) == 0);
    if (match) return Value::Bool(true);
  }
  return Value::Bool(false);
}

// find / rfind / index / rindex.
template <bool kReverse, bool kRaise>
Result<Value> Find(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("find", std::move(args), {{"sub", {}, true}, {"start"}, {"end"}}));
  WICK_ASSIGN_OR_RETURN(std::string sub, StringArg("find", a[0]));
  const std::string s = SubRange(self.str(), a[1], a[2]);
  int64_t found = PyFind(s, sub, kReverse);
  if (found < 0) {
    if (kRaise) return RenderError("substring not found");
    return Value::Int(-1);
  }
  if (a[1].is_int()) {
    int64_t start = a[1].as_int();
    const auto n = static_cast<int64_t>(CodePointCount(self.str()));
    if (start < 0) start = std::max<int64_t>(0, start + n);
    found += std::min(start, n);
  }
  return Value::Int(found);
}

Result<Value> CountStr(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("count", std::move(args), {{"sub", {}, true}, {"start"}, {"end"}}));
  WICK_ASSIGN_OR_RETURN(std::string sub, StringArg("count", a[0]));
  return Value::Int(PyCount(SubRange(self.str(), a[1], a[2]), sub));
}

Result<Value> ReplaceStr(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a,
                        Bind("replace", std::move(args),
                             {{"old", {}, true}, {"new", {}, true}, {"count", Value::Int(-1)}}));
  WICK_ASSIGN_OR_RETURN(std::string old_text, StringArg("replace", a[0]));
  WICK_ASSIGN_OR_RETURN(std::string new_text, StringArg("replace", a[1]));
  if (!a[2].is_int()) return RenderError("replace(): count must be an integer");
  if (self.is_markup()) {
    // Markup.replace escapes plain arguments.
    if (!a[0].is_markup()) old_text = EscapeHtml(old_text);
    if (!a[1].is_markup()) new_text = EscapeHtml(new_text);
  }
  WICK_RETURN_IF_ERROR(CheckReplace(self.str(), old_text, new_text, a[2].as_int()));
  return Value::StringLike(self, PyReplace(self.str(), old_text, new_text, a[2].as_int()));
}

template <std::string (*kMap)(std::string_view), bool kKeepsMarkup = true>
Result<Value> MapStr(Interpreter&, const Value& self, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("str method", std::move(args), {}));
  if (!kKeepsMarkup) return Value::String(kMap(self.str()));
  return Value::StringLike(self, kMap(self.str()));
}

template <bool (*kPredicate)(std::string_view)>
Result<Value> TestStr(Interpreter&, const Value& self, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("str method", std::move(args), {}));
  return Value::Bool(kPredicate(self.str()));
}

template <int kAlign>
Result<Value> Pad(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("center", std::move(args), {{"width", {}, true}}));
  if (!a[0].is_int()) return RenderError("width must be an integer");
  WICK_RETURN_IF_ERROR(CheckLength(a[0].as_int()));
  return Value::StringLike(self, PyPad(self.str(), a[0].as_int(), kAlign));
}

Result<Value> ZFill(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("zfill", std::move(args), {{"width", {}, true}}));
  if (!a[0].is_int()) return RenderError("width must be an integer");
  WICK_RETURN_IF_ERROR(CheckLength(a[0].as_int()));
  const std::string& s = self.str();
  const auto length = static_cast<int64_t>(CodePointCount(s));
  if (a[0].as_int() <= length) return self;
  const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
  std::string out = sign ? s.substr(0, 1) : "";
  out.append(static_cast<size_t>(a[0].as_int() - length), '0');
  out += sign ? s.substr(1) : s;
  return Value::StringLike(self, std::move(out));
}

Result<Value> JoinStr(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("join", std::move(args), {{"iterable", {}, true}}));
  WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(a[0]));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      return RenderError(
          fmt::format("sequence item {}: expected str instance, {} found", i, TypeName(items[i])));
    }
    if (i > 0) out += self.str();
    // Markup.join escapes plain items.
    out += self.is_markup() && !items[i].is_markup() ? EscapeHtml(items[i].str()) : items[i].str();
    WICK_RETURN_IF_ERROR(CheckLength(static_cast<int64_t>(out.size())));
  }
  return Value::StringLike(self, std::move(out));
}

template <bool kPrefix>
Result<Value> RemoveAffix(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind(kPrefix ? "removeprefix" : "removesuffix", std::move(args),
                                     {{"affix", {}, true}}));
  WICK_ASSIGN_OR_RETURN(std::string affix, StringArg("removeprefix", a[0]));
  const std::string& s = self.str();
  if (affix.empty() || affix.size() > s.size()) return self;
  if (kPrefix && s.compare(0, affix.size(), affix) == 0)
    return Value::String(s.substr(affix.size()));
  if (!kPrefix && s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
    return Value::String(s.substr(0, s.size() - affix.size()));
  }
  return self;
}

template <bool kReverse>
Result<Value> Partition(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("partition", std::move(args), {{"sep", {}, true}}));
  WICK_ASSIGN_OR_RETURN(std::string sep, StringArg("partition", a[0]));
  if (sep.empty()) return RenderError("empty separator");
  const std::string& s = self.str();
  const size_t at = kReverse ? s.rfind(sep) : s.find(sep);
  if (at == std::string::npos) {
    if (kReverse)
      return Value::Tuple({Value::StringLike(self, ""), Value::StringLike(self, ""), self});
    return Value::Tuple({self, Value::StringLike(self, ""), Value::StringLike(self, "")});
  }
  return Value::Tuple({Value::StringLike(self, s.substr(0, at)), Value::StringLike(self, sep),
                       Value::StringLike(self, s.substr(at + sep.size()))});
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the signature every method shares
Result<Value> FormatStr(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(std::string text, StrFormat(self.str(), args, self.is_markup()));
  return Value::StringLike(self, std::move(text));
}

std::string Casefold(std::string_view s) {
  return PyLower(s);
}

constexpr MethodEntry kStrMethods[] = {
    {"capitalize", MapStr<PyCapitalize>},
    {"casefold", MapStr<Casefold, false>},
    {"center", Pad<0>},
    {"count", CountStr},
    {"endswith", AffixTest<true>},
    {"find", Find<false, false>},
    {"format", FormatStr},
    {"index", Find<false, true>},
    {"isalnum", TestStr<PyIsAlnum>},
    {"isalpha", TestStr<PyIsAlpha>},
    {"isdecimal", TestStr<PyIsDigit>},
    {"isdigit", TestStr<PyIsDigit>},
    {"islower", TestStr<PyIsLower>},
    {"isnumeric", TestStr<PyIsDigit>},
    {"isspace", TestStr<PyIsSpaceString>},
    {"isupper", TestStr<PyIsUpper>},
    {"join", JoinStr},
    {"ljust", Pad<-1>},
    {"lower", MapStr<PyLower>},
    {"lstrip", Strip<true, false>},
    {"partition", Partition<false>},
    {"removeprefix", RemoveAffix<true>},
    {"removesuffix", RemoveAffix<false>},
    {"replace", ReplaceStr},
    {"rfind", Find<true, false>},
    {"rindex", Find<true, true>},
    {"rjust", Pad<1>},
    {"rpartition", Partition<true>},
    {"rsplit", Split<true>},
    {"rstrip", Strip<false, true>},
    {"split", Split<false>},
    {"splitlines", SplitLines},
    {"startswith", AffixTest<false>},
    {"strip", Strip<true, true>},
    {"swapcase", MapStr<PySwapCase>},
    {"title", MapStr<PyTitle>},
    {"upper", MapStr<PyUpper>},
    {"zfill", ZFill},
};

Result<Value> DictGet(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("get", std::move(args), {{"key", {}, true}, {"default"}}));
  if (const Value* value = self.dict().Find(a[0])) return *value;
  return a[1];
}

template <SeqKind kKind>
Result<Value> DictView(Interpreter&, const Value& self, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("dict method", std::move(args), {}));
  std::vector<Value> items;
  for (const auto& [key, value] : self.dict().entries()) {
    if (kKind == SeqKind::kDictKeys) items.push_back(key);
    if (kKind == SeqKind::kDictValues) items.push_back(value);
    if (kKind == SeqKind::kDictItems) items.push_back(Value::Tuple({key, value}));
  }
  return Value::Seq(kKind, std::move(items));
}

Result<Value> Copy(Interpreter&, const Value& self, CallArgs args) {
  WICK_RETURN_IF_ERROR(Bind("copy", std::move(args), {}));
  return self;
}

constexpr MethodEntry kDictMethods[] = {
    {"copy", Copy},
    {"get", DictGet},
    {"items", DictView<SeqKind::kDictItems>},
    {"keys", DictView<SeqKind::kDictKeys>},
    {"values", DictView<SeqKind::kDictValues>},
};

Result<Value> SeqCount(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("count", std::move(args), {{"value", {}, true}}));
  return Value::Int(std::count_if(self.seq().items.begin(), self.seq().items.end(),
                                  [&](const Value& item) { return Equals(item, a[0]); }));
}

Result<Value> SeqIndex(Interpreter&, const Value& self, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(auto a, Bind("index", std::move(args), {{"value", {}, true}}));
  const auto& items = self.seq().items;
  for (size_t i = 0; i < items.size(); ++i) {
    if (Equals(items[i], a[0])) return Value::Int(static_cast<int64_t>(i));
  }
  return RenderError(fmt::format("{} is not in {}", Repr(a[0]), TypeName(self)));
}

constexpr MethodEntry kListMethods[] = {
    {"copy", Copy},
    {"count", SeqCount},
    {"index", SeqIndex},
};

constexpr MethodEntry kTupleMethods[] = {
    {"count", SeqCount},
    {"index", SeqIndex},
};

// What the immutable sandbox blocks (jinja2/sandbox.py's _mutable_spec).
constexpr std::string_view kUnsafeDictMethods[] = {"clear", "pop", "popitem", "setdefault",
                                                   "update"};
constexpr std::string_view kUnsafeListMethods[] = {"append", "clear",  "extend",  "insert",
                                                   "pop",    "remove", "reverse", "sort"};

template <size_t N>
std::optional<Value> FindMethod(const MethodEntry (&table)[N], const Value& self,
                                std::string_view name) {
  for (const MethodEntry& entry : table) {
    if (entry.name == name) return Function::Make(std::string(name), self, entry.fn);
  }
  return std::nullopt;
}

template <size_t N>
std::optional<Value> Unsafe(const std::string_view (&names)[N], const Value& self,
                            std::string_view name) {
  for (std::string_view unsafe : names) {
    if (unsafe == name) {
      return Value::Undefined(
          fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, TypeName(self)));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> LookupMethod(const Value& value, std::string_view name) {
  switch (value.type()) {
    case Value::Type::kString:
      return FindMethod(kStrMethods, value, name);
    case Value::Type::kDict:
      if (auto method = FindMethod(kDictMethods, value, name)) return method;
      return Unsafe(kUnsafeDictMethods, value, name);
    case Value::Type::kSeq:
      if (value.seq().kind == SeqKind::kList) {
        if (auto method = FindMethod(kListMethods, value, name)) return method;
        return Unsafe(kUnsafeListMethods, value, name);
      }
      if (value.seq().kind == SeqKind::kTuple) return FindMethod(kTupleMethods, value, name);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace wick::jinja
