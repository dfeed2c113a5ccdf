// Python's two string formatting mini-languages: `"%s: %d" % (a, b)` (also the `format`
// filter) and `"{}: {:>4}".format(a, b)`. Numbers are formatted by fmt, whose format specs
// are Python's; strings are padded here, counting code points as Python does.
#include <fmt/format.h>

#include <cmath>

#include "text/jinja/builtins.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Pads `text` to `width` code points: left-aligned when `left`, else right-aligned.
std::string PadText(std::string text, int64_t width, bool left, char fill = ' ') {
  const auto length = static_cast<int64_t>(CodePointCount(text));
  if (width <= length) return text;
  const std::string padding(static_cast<size_t>(width - length), fill);
  return left ? text + padding : padding + text;
}

Result<std::string> FormatNumber(std::string_view spec, const Value& value, char type) {
  try {
    const std::string pattern = fmt::format("{{:{}{}}}", spec, type);
    if (type == 'd' || type == 'x' || type == 'X' || type == 'o') {
      return fmt::format(fmt::runtime(pattern), value.as_int());
    }
    return fmt::format(fmt::runtime(pattern), value.as_float());
  } catch (const fmt::format_error& error) {
    return RenderError(fmt::format("invalid format specifier: {}", error.what()));
  }
}

// One %-conversion of `value`.
Result<std::string> Convert(const Value& value, char conversion, const std::string& flags,
                            int64_t width, int64_t precision, bool markup) {
  const bool left = flags.find('-') != std::string::npos;
  if (conversion == 's' || conversion == 'r' || conversion == 'a') {
    std::string text = conversion == 's' ? ToStr(value) : Repr(value);
    if (markup && !value.is_markup()) text = EscapeHtml(text);
    if (precision >= 0) {
      const std::vector<uint32_t> cps = CodePoints(text);
      if (static_cast<size_t>(precision) < cps.size()) {
        text = FromCodePoints(cps, 0, static_cast<size_t>(precision));
      }
    }
    return PadText(std::move(text), width, left);
  }
  if (conversion == 'c') {
    std::string text;
    if (value.is_string() && CodePointCount(value.str()) == 1) {
      text = value.str();
    } else if (value.is_int() && value.as_int() >= 0 && value.as_int() <= 0x10FFFF) {
      text = FromCodePoints({static_cast<uint32_t>(value.as_int())}, 0, 1);
    } else {
      return RenderError("%c requires an int or a unicode character");
    }
    return PadText(std::move(text), width, left);
  }
  if (!value.is_number()) {
    return RenderError(
        fmt::format("%{} format: a real number is required, not {}", conversion, TypeName(value)));
  }
  std::string spec;
  if (left) spec += '<';
  if (flags.find('+') != std::string::npos) {
    spec += '+';
  } else if (flags.find(' ') != std::string::npos) {
    spec += ' ';
  }
  const bool zero = !left && flags.find('0') != std::string::npos;
  switch (conversion) {
    case 'd':
    case 'i':
    case 'u': {
      const int64_t n = value.type() == Value::Type::kFloat
                            ? static_cast<int64_t>(std::trunc(value.as_float()))
                            : value.as_int();
      if (precision > 0) {
        // %.3d pads the digits, which fmt has no spec for.
        std::string digits =
            std::to_string(n < 0 ? -static_cast<uint64_t>(n) : static_cast<uint64_t>(n));
        if (static_cast<int64_t>(digits.size()) < precision) {
          digits.insert(0, static_cast<size_t>(precision) - digits.size(), '0');
        }
        std::string sign = n < 0 ? "-" : (spec.find('+') != std::string::npos ? "+" : "");
        return PadText(sign + digits, width, left);
      }
      if (zero) spec += '0';
      if (width > 0) spec += std::to_string(width);
      return FormatNumber(spec, Value::Int(n), 'd');
    }
    case 'x':
    case 'X':
    case 'o': {
      if (value.type() == Value::Type::kFloat) {
        return RenderError(
            fmt::format("%{} format: an integer is required, not float", conversion));
      }
      if (zero) spec += '0';
      if (width > 0) spec += std::to_string(width);
      return FormatNumber(spec, value, conversion);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      if (zero) spec += '0';
      if (width > 0) spec += std::to_string(width);
      spec += '.' + std::to_string(precision >= 0 ? precision : 6);
      return FormatNumber(spec, value, conversion);
    }
    default:
      return RenderError(fmt::format("unsupported format character '{}'", conversion));
  }
}

// A field's format spec applied to `value` ({:>10}, {:.2f}, {:05d}).
Result<std::string> FormatField(const Value& value, std::string_view spec) {
  if (spec.empty()) return ToStr(value);
  if (value.is_string() || !value.is_number()) {
    // [[fill]align][width][.precision][s] for text.
    std::string text = ToStr(value);
    size_t pos = 0;
    char fill = ' ';
    char align = '<';
    auto is_align = [](char c) { return c == '<' || c == '>' || c == '^'; };
    if (spec.size() >= 2 && is_align(spec[1])) {
      fill = spec[0];
      align = spec[1];
      pos = 2;
    } else if (!spec.empty() && is_align(spec[0])) {
      align = spec[0];
      pos = 1;
    }
    int64_t width = 0;
    while (pos < spec.size() && IsDigit(spec[pos])) {
      width = std::min<int64_t>(width * 10 + (spec[pos++] - '0'), INT64_MAX / 16);
    }
    if (pos < spec.size() && spec[pos] == '.') {
      ++pos;
      int64_t precision = 0;
      while (pos < spec.size() && IsDigit(spec[pos])) {
        precision = std::min<int64_t>(precision * 10 + (spec[pos++] - '0'), INT64_MAX / 16);
      }
      const std::vector<uint32_t> cps = CodePoints(text);
      if (static_cast<size_t>(precision) < cps.size()) {
        text = FromCodePoints(cps, 0, static_cast<size_t>(precision));
      }
    }
    if (pos < spec.size() && spec[pos] == 's') ++pos;
    if (pos != spec.size()) {
      return RenderError(fmt::format("Unknown format code '{}' for object of type '{}'",
                                     spec.substr(pos), TypeName(value)));
    }
    const auto length = static_cast<int64_t>(CodePointCount(text));
    if (width <= length) return text;
    const auto pad = static_cast<size_t>(width - length);
    const size_t before = align == '>' ? pad : (align == '^' ? pad / 2 : 0);
    return std::string(before, fill) + text + std::string(pad - before, fill);
  }
  const char last = spec.back();
  const bool has_type = std::string_view("bcdeEfFgGnosxX%").find(last) != std::string_view::npos;
  const char type = has_type ? last : (value.type() == Value::Type::kFloat ? 'g' : 'd');
  const std::string_view rest = has_type ? spec.substr(0, spec.size() - 1) : spec;
  if (!has_type && value.type() == Value::Type::kFloat &&
      rest.find('.') == std::string_view::npos) {
    // Python's default float presentation is repr(), right-aligned when padded.
    const bool aligned = rest.find_first_of("<>^") != std::string_view::npos;
    try {
      return fmt::format(fmt::runtime(fmt::format("{{:{}{}}}", aligned ? "" : ">", rest)),
                         FormatFloat(value.as_float()));
    } catch (const fmt::format_error& error) {
      return RenderError(fmt::format("invalid format specifier: {}", error.what()));
    }
  }
  const Value& number = value;
  if ((type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') &&
      value.type() == Value::Type::kFloat) {
    return RenderError(fmt::format("Unknown format code '{}' for object of type 'float'", type));
  }
  return FormatNumber(rest, number, type);
}

// A format spec's numbers (width, precision) are checked before anything pads to them.
Status CheckSpecWidths(std::string_view spec) {
  int64_t number = 0;
  for (char c : spec) {
    if (IsDigit(c)) {
      number = std::min<int64_t>(number * 10 + (c - '0'), INT64_MAX / 16);
      WICK_RETURN_IF_ERROR(CheckLength(number));
    } else {
      number = 0;
    }
  }
  return OkStatus();
}

}  // namespace

Result<std::string> PercentFormat(std::string_view format, const Value& args, bool markup) {
  std::vector<Value> positional;
  const bool mapping = args.is_dict();
  if (args.is_seq() && args.seq().kind == SeqKind::kTuple) {
    positional = args.seq().items;
  } else {
    positional.push_back(args);
  }
  size_t next = 0;
  bool used_mapping = false;
  auto take = [&]() -> Result<Value> {
    if (next >= positional.size()) return RenderError("not enough arguments for format string");
    return positional[next++];
  };
  std::string out;
  size_t i = 0;
  while (i < format.size()) {
    if (format[i] != '%') {
      out += format[i++];
      continue;
    }
    if (++i >= format.size()) return RenderError("incomplete format");
    std::optional<Value> keyed;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string_view::npos) return RenderError("incomplete format key");
      if (!mapping) return RenderError("format requires a mapping");
      const std::string key(format.substr(i + 1, close - i - 1));
      const Value* value = args.dict().Find(key);
      if (value == nullptr) return RenderError(fmt::format("KeyError: '{}'", key));
      keyed = *value;
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < format.size() &&
           std::string_view("-+ #0").find(format[i]) != std::string_view::npos) {
      flags += format[i++];
    }
    int64_t width = 0;
    if (i < format.size() && format[i] == '*') {
      WICK_ASSIGN_OR_RETURN(Value w, take());
      if (!w.is_int()) return RenderError("* wants int");
      width = w.as_int();
      ++i;
    } else {
      while (i < format.size() && IsDigit(format[i])) {
        width = std::min<int64_t>(width * 10 + (format[i++] - '0'), INT64_MAX / 16);
      }
    }
    int64_t precision = -1;
    if (i < format.size() && format[i] == '.') {
      ++i;
      precision = 0;
      if (i < format.size() && format[i] == '*') {
        WICK_ASSIGN_OR_RETURN(Value p, take());
        if (!p.is_int()) return RenderError("* wants int");
        precision = p.as_int();
        ++i;
      } else {
        while (i < format.size() && IsDigit(format[i])) {
          precision = std::min<int64_t>(precision * 10 + (format[i++] - '0'), INT64_MAX / 16);
        }
      }
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) return RenderError("incomplete format");
    const char conversion = format[i++];
    if (conversion == '%') {
      out += '%';
      continue;
    }
    WICK_RETURN_IF_ERROR(CheckLength(width));
    WICK_RETURN_IF_ERROR(CheckLength(precision));
    Value value;
    if (keyed) {
      value = *keyed;
    } else {
      WICK_ASSIGN_OR_RETURN(value, take());
    }
    WICK_ASSIGN_OR_RETURN(std::string text,
                          Convert(value, conversion, flags, width, precision, markup));
    out += text;
    WICK_RETURN_IF_ERROR(CheckLength(static_cast<int64_t>(out.size())));
  }
  // Like CPython, leftover arguments are only an error when the argument is not
  // subscriptable (a list or dict argument may go unused).
  const bool subscriptable =
      mapping || args.is_undefined() || (args.is_seq() && args.seq().kind != SeqKind::kTuple);
  if (!used_mapping && !subscriptable && next < positional.size()) {
    return RenderError("not all arguments converted during string formatting");
  }
  return out;
}

Result<std::string> StrFormat(std::string_view format, const CallArgs& args, bool markup) {
  std::string out;
  size_t auto_index = 0;
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      return RenderError("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string_view::npos)
      return RenderError("Single '{' encountered in format string");
    std::string_view field = format.substr(i + 1, close - i - 1);
    i = close + 1;
    std::string_view spec;
    if (const size_t colon = field.find(':'); colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    char conversion = 0;
    if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
      if (bang + 2 != field.size()) return RenderError("expected ':' after conversion specifier");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    const Value* value = nullptr;
    if (field.empty()) {
      if (auto_index >= args.positional.size()) {
        return RenderError(
            fmt::format("Replacement index {} out of range for positional args tuple", auto_index));
      }
      value = &args.positional[auto_index++];
    } else if (IsDigit(field[0])) {
      size_t index = 0;
      for (char d : field) {
        if (!IsDigit(d)) return RenderError("only plain field names are supported");
        index = index * 10 + static_cast<size_t>(d - '0');
      }
      if (index >= args.positional.size()) {
        return RenderError(
            fmt::format("Replacement index {} out of range for positional args tuple", index));
      }
      value = &args.positional[index];
    } else {
      for (const auto& [key, item] : args.keyword) {
        if (key == field) value = &item;
      }
      if (value == nullptr) return RenderError(fmt::format("KeyError: '{}'", field));
    }
    Value shown = *value;
    if (conversion == 'r' || conversion == 'a') {
      shown = Value::String(Repr(*value));
    } else if (conversion == 's') {
      shown = Value::String(ToStr(*value));
    } else if (conversion != 0) {
      return RenderError(fmt::format("Unknown conversion specifier {}", conversion));
    }
    WICK_RETURN_IF_ERROR(CheckSpecWidths(spec));
    WICK_ASSIGN_OR_RETURN(std::string text, FormatField(shown, spec));
    out += markup && !shown.is_markup() ? EscapeHtml(text) : text;
    WICK_RETURN_IF_ERROR(CheckLength(static_cast<int64_t>(out.size())));
  }
  return out;
}

}  // namespace wick::jinja
