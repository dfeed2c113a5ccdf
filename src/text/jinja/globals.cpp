// The global functions of transformers' chat template environment (range, dict, namespace,
// raise_exception, strftime_now), and the argument binding every built-in shares.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "text/jinja/builtins.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

constexpr const char* kWeekdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};
constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};

struct DateTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, microsecond = 0;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<int>(y - era * 400);
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// "YYYY-MM-DD", optionally followed by "THH:MM[:SS[.ffffff]]" (or a space instead of T).
std::optional<DateTime> ParseIsoTime(std::string_view text) {
  DateTime t;
  int n = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &t.year, &t.month, &t.day, &n) != 3) {
    return std::nullopt;
  }
  size_t pos = static_cast<size_t>(n);
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != ' ') return std::nullopt;
    int m = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &t.hour, &t.minute, &m) != 2) {
      return std::nullopt;
    }
    pos += 1 + static_cast<size_t>(m);
    if (pos < s.size() && s[pos] == ':') {
      if (std::sscanf(s.c_str() + pos + 1, "%2d%n", &t.second, &m) != 1) return std::nullopt;
      pos += 1 + static_cast<size_t>(m);
      if (pos < s.size() && s[pos] == '.') {
        size_t end = pos + 1;
        while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        std::string digits = s.substr(pos + 1, std::min<size_t>(end - pos - 1, 6));
        digits.resize(6, '0');
        t.microsecond = std::atoi(digits.c_str());
        pos = end;
      }
    }
    // A zone ("Z", "+01:00") is accepted and ignored: the time is formatted as written.
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == '+' || s[pos] == '-')) {
      int zone_hours = 0;
      int zone_minutes = 0;
      if (s[pos] == 'Z' && pos + 1 == s.size()) {
        pos = s.size();
      } else if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &zone_hours, &zone_minutes) == 2 &&
                 pos + 6 == s.size()) {
        pos = s.size();
      }
    }
    if (pos != s.size()) return std::nullopt;
  }
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > kDays[t.month - 1] ||
      (t.month == 2 && t.day == 29 && !IsLeap(t.year)) || t.hour > 23 || t.minute > 59 ||
      t.second > 59) {
    return std::nullopt;
  }
  return t;
}

DateTime LocalNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  DateTime t;
  t.year = tm.tm_year + 1900;
  t.month = tm.tm_mon + 1;
  t.day = tm.tm_mday;
  t.hour = tm.tm_hour;
  t.minute = tm.tm_min;
  t.second = tm.tm_sec;
  t.microsecond = static_cast<int>(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000);
  return t;
}

// datetime.strftime in the C locale, as Python gives it for a naive datetime.
std::string FormatTime(const DateTime& t, std::string_view format) {
  const int64_t days = DaysFromCivil(t.year, t.month, t.day);
  const auto weekday = static_cast<int>(((days % 7) + 11) % 7);  // 0 = Sunday
  const int yday = static_cast<int>(days - DaysFromCivil(t.year, 1, 1)) + 1;
  const int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out += format[i];
      continue;
    }
    const char c = format[++i];
    switch (c) {
      case 'a':
        out += std::string_view(kWeekdays[weekday]).substr(0, 3);
        break;
      case 'A':
        out += kWeekdays[weekday];
        break;
      case 'b':
      case 'h':
        out += std::string_view(kMonths[t.month - 1]).substr(0, 3);
        break;
      case 'B':
        out += kMonths[t.month - 1];
        break;
      case 'd':
        out += fmt::format("{:02d}", t.day);
        break;
      case 'e':
        out += fmt::format("{:2d}", t.day);
        break;
      case 'm':
        out += fmt::format("{:02d}", t.month);
        break;
      case 'y':
        out += fmt::format("{:02d}", t.year % 100);
        break;
      case 'Y':
        out += fmt::format("{}", t.year);
        break;
      case 'H':
        out += fmt::format("{:02d}", t.hour);
        break;
      case 'I':
        out += fmt::format("{:02d}", hour12);
        break;
      case 'M':
        out += fmt::format("{:02d}", t.minute);
        break;
      case 'S':
        out += fmt::format("{:02d}", t.second);
        break;
      case 'f':
        out += fmt::format("{:06d}", t.microsecond);
        break;
      case 'p':
        out += t.hour < 12 ? "AM" : "PM";
        break;
      case 'j':
        out += fmt::format("{:03d}", yday);
        break;
      case 'w':
        out += fmt::format("{}", weekday);
        break;
      case 'u':
        out += fmt::format("{}", weekday == 0 ? 7 : weekday);
        break;
      case 'F':
        out += fmt::format("{}-{:02d}-{:02d}", t.year, t.month, t.day);
        break;
      case 'T':
        out += fmt::format("{:02d}:{:02d}:{:02d}", t.hour, t.minute, t.second);
        break;
      case 'D':
        out += fmt::format("{:02d}/{:02d}/{:02d}", t.month, t.day, t.year % 100);
        break;
      case 'R':
        out += fmt::format("{:02d}:{:02d}", t.hour, t.minute);
        break;
      case 'c':
        out += fmt::format("{} {} {:2d} {:02d}:{:02d}:{:02d} {}",
                           std::string_view(kWeekdays[weekday]).substr(0, 3),
                           std::string_view(kMonths[t.month - 1]).substr(0, 3), t.day, t.hour,
                           t.minute, t.second, t.year);
        break;
      case 'x':
        out += fmt::format("{:02d}/{:02d}/{:02d}", t.month, t.day, t.year % 100);
        break;
      case 'X':
        out += fmt::format("{:02d}:{:02d}:{:02d}", t.hour, t.minute, t.second);
        break;
      case 'z':
      case 'Z':
        break;  // a naive datetime has no zone
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case '%':
        out += '%';
        break;
      default:
        out += '%';
        out += c;
    }
  }
  return out;
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the signature every built-in shares
Result<Value> Range(Interpreter&, const Value&, CallArgs args) {
  if (!args.keyword.empty()) return RenderError("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) {
    return RenderError(fmt::format("range expected at most 3 arguments, got {}", p.size()));
  }
  for (const Value& v : p) {
    if (v.is_undefined()) return UndefinedError(v);
    if (!v.is_int()) {
      return RenderError(
          fmt::format("'{}' object cannot be interpreted as an integer", TypeName(v)));
    }
  }
  const int64_t start = p.size() == 1 ? 0 : p[0].as_int();
  const int64_t stop = p.size() == 1 ? p[0].as_int() : p[1].as_int();
  const int64_t step = p.size() == 3 ? p[2].as_int() : 1;
  if (step == 0) return RenderError("range() arg 3 must not be zero");
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (items.size() >= kMaxItems) return Error(ErrorCode::kUnsupported, "range is too long");
    items.push_back(Value::Int(i));
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value::List(std::move(items));
}

// Arguments of dict() and namespace(): an optional mapping, then keyword arguments.
Result<DictData> MappingArgs(std::string_view what, CallArgs args) {
  if (args.positional.size() > 1) {
    return RenderError(
        fmt::format("{} expected at most 1 argument, got {}", what, args.positional.size()));
  }
  DictData dict;
  if (!args.positional.empty()) {
    const Value& source = args.positional.front();
    if (source.is_dict()) {
      dict = source.dict();
    } else {
      WICK_ASSIGN_OR_RETURN(std::vector<Value> pairs, Iterate(source));
      for (const Value& pair : pairs) {
        WICK_ASSIGN_OR_RETURN(std::vector<Value> kv, Iterate(pair));
        if (kv.size() != 2) {
          return RenderError(fmt::format(
              "dictionary update sequence element has length {}; 2 is required", kv.size()));
        }
        dict.Set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [key, value] : args.keyword) dict.Set(Value::String(key), std::move(value));
  return dict;
}

Result<Value> MakeDict(Interpreter&, const Value&, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(DictData dict, MappingArgs("dict", std::move(args)));
  return Value::Dict(std::move(dict));
}

Result<Value> MakeNamespace(Interpreter& interpreter, const Value&, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(DictData attrs, MappingArgs("namespace", std::move(args)));
  auto ns = std::make_shared<Namespace>();
  for (const auto& [key, value] : attrs.entries()) {
    if (!key.is_string()) return RenderError("namespace attribute names must be strings");
    ns->Set(key.str(), value);
  }
  interpreter.RegisterNamespace(ns);
  return Value::Object(std::move(ns));
}

Result<Value> RaiseException(Interpreter&, const Value&, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(std::vector<Value> bound,
                        BindArgs("raise_exception", std::move(args), {{"message", Value::None()}}));
  // kInvalidArgument is reserved for this: the template refuses the conversation it was given.
  return Error(ErrorCode::kInvalidArgument, ToStr(bound[0]));
}

Result<Value> StrftimeNow(Interpreter& interpreter, const Value&, CallArgs args) {
  WICK_ASSIGN_OR_RETURN(std::vector<Value> bound,
                        BindArgs("strftime_now", std::move(args), {{"format", {}, true}}));
  if (!bound[0].is_string()) {
    return RenderError(
        fmt::format("strftime() argument 1 must be str, not {}", TypeName(bound[0])));
  }
  const std::string& now = interpreter.options().now;
  DateTime time;
  if (now.empty()) {
    time = LocalNow();
  } else if (std::optional<DateTime> parsed = ParseIsoTime(now)) {
    time = *parsed;
  } else {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("RenderOptions::now {} is not an ISO date and time", Quote(now)));
  }
  return Value::String(FormatTime(time, bound[0].str()));
}

}  // namespace

Status CheckLength(int64_t bytes) {
  if (bytes > static_cast<int64_t>(kMaxStringBytes)) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("a string of {} bytes would pass the limit of {} MiB", bytes,
                             kMaxStringBytes >> 20));
  }
  return OkStatus();
}

Status CheckReplace(std::string_view text, std::string_view old_text, std::string_view new_text,
                    int64_t count) {
  if (new_text.size() <= old_text.size()) return OkStatus();
  int64_t found = PyCount(text, old_text);
  if (count >= 0) found = std::min(found, count);
  const auto growth = static_cast<int64_t>(new_text.size() - old_text.size());
  if (found > 0 && growth > static_cast<int64_t>(kMaxStringBytes) / found) {
    return CheckLength(static_cast<int64_t>(kMaxStringBytes) + 1);
  }
  return CheckLength(static_cast<int64_t>(text.size()) + found * growth);
}

Result<std::vector<Value>> BindArgs(std::string_view what, CallArgs args,
                                    std::initializer_list<Param> params) {
  std::vector<Value> bound;
  std::vector<bool> given(params.size(), false);
  for (const Param& param : params) bound.push_back(param.default_value);
  if (args.positional.size() > params.size()) {
    return RenderError(fmt::format("{} takes at most {} argument(s) ({} given)", what,
                                   params.size(), args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) {
    bound[i] = std::move(args.positional[i]);
    given[i] = true;
  }
  for (auto& [name, value] : args.keyword) {
    size_t index = 0;
    for (const Param& param : params) {
      if (param.name == name) break;
      ++index;
    }
    if (index == params.size()) {
      return RenderError(fmt::format("{} got an unexpected keyword argument '{}'", what, name));
    }
    if (given[index]) {
      return RenderError(fmt::format("{} got multiple values for argument '{}'", what, name));
    }
    bound[index] = std::move(value);
    given[index] = true;
  }
  size_t index = 0;
  for (const Param& param : params) {
    if (param.required && !given[index]) {
      return RenderError(fmt::format("{} missing required argument '{}'", what, param.name));
    }
    ++index;
  }
  return bound;
}

Result<Value> Function::Call(Interpreter& interpreter, CallArgs args) const {
  int64_t work = 1 + WorkOf(self_);
  for (const Value& arg : args.positional) work += WorkOf(arg);
  WICK_RETURN_IF_ERROR(interpreter.Step(work));
  WICK_ASSIGN_OR_RETURN(Value result, fn_(interpreter, self_, std::move(args)));
  if (result.is_string()) WICK_RETURN_IF_ERROR(interpreter.CheckSize(result.str().size()));
  WICK_RETURN_IF_ERROR(interpreter.Step(WorkOf(result)));
  return result;
}

std::string Namespace::Repr() const {
  // Python prints a dict that contains itself as {...}; so does a namespace here.
  thread_local std::vector<const Namespace*> printing;
  if (std::find(printing.begin(), printing.end(), this) != printing.end()) {
    return "<Namespace {...}>";
  }
  printing.push_back(this);
  std::string text = "<Namespace " + jinja::Repr(Value::Dict(attrs_)) + ">";
  printing.pop_back();
  return text;
}

Value Namespace::GetAttr(std::string_view name) const {
  if (const Value* value = attrs_.Find(name)) return *value;
  return Object::GetAttr(name);
}

std::vector<std::pair<std::string, Value>> Globals() {
  std::vector<std::pair<std::string, Value>> globals;
  auto add = [&](const char* name, Function::Fn fn) {
    globals.emplace_back(name, Function::Make(name, Value(), fn));
  };
  add("range", Range);
  add("dict", MakeDict);
  add("namespace", MakeNamespace);
  add("raise_exception", RaiseException);
  add("strftime_now", StrftimeNow);
  return globals;
}

}  // namespace wick::jinja
