#include "text/jinja/value.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

// Printing stops descending here; only a namespace that contains itself gets this deep.
constexpr int kMaxPrintDepth = 600;

// Objects print their attributes through their own Repr, so the nesting depth of printing
// is counted per thread rather than passed down.
thread_local int print_depth = 0;

class PrintDepthGuard {
 public:
  PrintDepthGuard() { ++print_depth; }
  ~PrintDepthGuard() { --print_depth; }
  PrintDepthGuard(const PrintDepthGuard&) = delete;
  PrintDepthGuard& operator=(const PrintDepthGuard&) = delete;
};

std::string_view SeqTypeName(SeqKind kind) {
  switch (kind) {
    case SeqKind::kList:
      return "list";
    case SeqKind::kTuple:
      return "tuple";
    case SeqKind::kDictKeys:
      return "dict_keys";
    case SeqKind::kDictValues:
      return "dict_values";
    case SeqKind::kDictItems:
      return "dict_items";
    case SeqKind::kGenerator:
      return "generator";
    case SeqKind::kReverseIterator:
      return "list_reverseiterator";
  }
  return "list";
}

void AppendRepr(const Value& value, std::string* out);

void AppendItems(const std::vector<Value>& items, std::string* out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) *out += ", ";
    AppendRepr(items[i], out);
  }
}

void AppendRepr(const Value& value, std::string* out) {
  PrintDepthGuard guard;
  // Past the size limit the text is cut: whoever outputs it then fails on the size.
  if (print_depth > kMaxPrintDepth || out->size() > kMaxStringBytes) {
    *out += "...";
    return;
  }
  switch (value.type()) {
    case Value::Type::kUndefined:
      *out += "Undefined";
      return;
    case Value::Type::kString:
      if (value.is_markup()) {
        *out += "Markup(" + PyStringRepr(value.str()) + ")";
      } else {
        *out += PyStringRepr(value.str());
      }
      return;
    case Value::Type::kSeq: {
      const SeqData& seq = value.seq();
      switch (seq.kind) {
        case SeqKind::kList:
          *out += '[';
          AppendItems(seq.items, out);
          *out += ']';
          return;
        case SeqKind::kTuple:
          *out += '(';
          AppendItems(seq.items, out);
          if (seq.items.size() == 1) *out += ',';
          *out += ')';
          return;
        case SeqKind::kDictKeys:
        case SeqKind::kDictValues:
        case SeqKind::kDictItems:
          *out += SeqTypeName(seq.kind);
          *out += "([";
          AppendItems(seq.items, out);
          *out += "])";
          return;
        case SeqKind::kGenerator:
        case SeqKind::kReverseIterator:
          *out += fmt::format("<{} object>", SeqTypeName(seq.kind));
          return;
      }
      return;
    }
    case Value::Type::kDict: {
      *out += '{';
      bool first = true;
      for (const auto& [key, item] : value.dict().entries()) {
        if (!first) *out += ", ";
        first = false;
        AppendRepr(key, out);
        *out += ": ";
        AppendRepr(item, out);
      }
      *out += '}';
      return;
    }
    case Value::Type::kObject:
      *out += value.object().Repr();
      return;
    default:
      *out += ToStr(value);
      return;
  }
}

bool SeqEquals(const SeqData& a, const SeqData& b) {
  if (a.is_iterator() || b.is_iterator()) return &a == &b;
  if (a.kind != b.kind || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!Equals(a.items[i], b.items[i])) return false;
  }
  return true;
}

bool DictEquals(const DictData& a, const DictData& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a.entries()) {
    const Value* other = b.Find(key);
    if (other == nullptr || !Equals(value, *other)) return false;
  }
  return true;
}

}  // namespace

Value Value::Undefined(std::string message) {
  Value v;
  v.data_ = UndefinedData{std::make_shared<const std::string>(std::move(message))};
  return v;
}

Value Value::None() {
  Value v;
  v.data_ = std::monostate{};
  return v;
}

Value Value::Bool(bool value) {
  Value v;
  v.data_ = value;
  return v;
}

Value Value::Int(int64_t value) {
  Value v;
  v.data_ = value;
  return v;
}

Value Value::Float(double value) {
  Value v;
  v.data_ = value;
  return v;
}

Value Value::String(std::string value) {
  Value v;
  v.data_ = std::make_shared<const StringData>(StringData{std::move(value), false});
  return v;
}

Value Value::Markup(std::string value) {
  Value v;
  v.data_ = std::make_shared<const StringData>(StringData{std::move(value), true});
  return v;
}

Value Value::StringLike(const Value& like, std::string value) {
  return like.is_markup() ? Markup(std::move(value)) : String(std::move(value));
}

Value Value::Seq(SeqKind kind, std::vector<Value> items) {
  auto seq = std::make_shared<SeqData>();
  seq->kind = kind;
  uint32_t depth = 0;
  for (const Value& item : items) depth = std::max(depth, item.depth());
  seq->depth = depth + 1;
  seq->items = std::move(items);
  Value v;
  v.data_ = SeqPtr(std::move(seq));
  return v;
}

Value Value::Dict(DictData dict) {
  Value v;
  v.data_ = std::make_shared<const DictData>(std::move(dict));
  return v;
}

Value Value::Object(std::shared_ptr<jinja::Object> object) {
  Value v;
  v.data_ = std::move(object);
  return v;
}

int64_t Value::as_int() const {
  if (type() == Type::kBool) return as_bool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_float() const {
  if (type() == Type::kFloat) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

std::string Value::undefined_message() const {
  const auto& message = std::get<UndefinedData>(data_).message;
  return message ? *message : "value is undefined";
}

uint32_t Value::depth() const {
  switch (type()) {
    case Type::kSeq:
      return seq().depth;
    case Type::kDict:
      return dict().depth();
    case Type::kObject:
      return object().depth();
    default:
      return 0;
  }
}

bool Value::SameObject(const Value& other) const {
  if (type() != other.type()) return false;
  switch (type()) {
    case Type::kSeq:
      return &seq() == &other.seq();
    case Type::kDict:
      return &dict() == &other.dict();
    case Type::kObject:
      return &object() == &other.object();
    case Type::kString:
      return &str() == &other.str();
    default:
      return Equals(*this, other);
  }
}

size_t DictData::IndexOf(const Value& key) const {
  if (key.is_string()) return IndexOf(std::string_view(key.str()));
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (Equals(entries_[i].first, key)) return i;
  }
  return kNotFound;
}

size_t DictData::IndexOf(std::string_view key) const {
  if (!index_.empty()) {
    const auto it = index_.find(std::string(key));
    return it == index_.end() ? kNotFound : it->second;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].first.is_string() && entries_[i].first.str() == key) return i;
  }
  return kNotFound;
}

const Value* DictData::Find(const Value& key) const {
  const size_t i = IndexOf(key);
  return i == kNotFound ? nullptr : &entries_[i].second;
}

const Value* DictData::Find(std::string_view key) const {
  const size_t i = IndexOf(key);
  return i == kNotFound ? nullptr : &entries_[i].second;
}

void DictData::Set(Value key, Value value) {
  depth_ = std::max(depth_, std::max(key.depth(), value.depth()) + 1);
  if (const size_t i = IndexOf(key); i != kNotFound) {
    entries_[i].second = std::move(value);
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
  if (entries_.size() == kIndexFrom) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first.is_string()) index_.emplace(entries_[i].first.str(), i);
    }
  } else if (entries_.size() > kIndexFrom && entries_.back().first.is_string()) {
    index_.emplace(entries_.back().first.str(), entries_.size() - 1);
  }
}

Value Object::GetAttr(std::string_view name) const {
  return Value::Undefined(fmt::format("'{} object' has no attribute '{}'", TypeName(), name));
}

Result<Value> Object::Call(Interpreter&, CallArgs /*args*/) const {  // NOLINT: not callable
  return RenderError(fmt::format("'{}' object is not callable", TypeName()));
}

Error RenderError(std::string message) {
  return Error(ErrorCode::kTypeMismatch, std::move(message));
}

Error UndefinedError(const Value& undefined) {
  return RenderError(undefined.undefined_message());
}

int64_t WorkOf(const Value& value) {
  switch (value.type()) {
    case Value::Type::kString:
      return static_cast<int64_t>(value.str().size() / 16);
    case Value::Type::kSeq:
      return static_cast<int64_t>(value.seq().items.size());
    case Value::Type::kDict:
      return static_cast<int64_t>(value.dict().size());
    default:
      return 0;
  }
}

bool Truthy(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return false;
    case Value::Type::kBool:
      return value.as_bool();
    case Value::Type::kInt:
      return value.as_int() != 0;
    case Value::Type::kFloat:
      return value.as_float() != 0.0;
    case Value::Type::kString:
      return !value.str().empty();
    case Value::Type::kSeq:
      return value.seq().is_iterator() || !value.seq().items.empty();
    case Value::Type::kDict:
      return !value.dict().empty();
    case Value::Type::kObject:
      return true;
  }
  return false;
}

std::string TypeName(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return "Undefined";
    case Value::Type::kNone:
      return "NoneType";
    case Value::Type::kBool:
      return "bool";
    case Value::Type::kInt:
      return "int";
    case Value::Type::kFloat:
      return "float";
    case Value::Type::kString:
      return value.is_markup() ? "Markup" : "str";
    case Value::Type::kSeq:
      return std::string(SeqTypeName(value.seq().kind));
    case Value::Type::kDict:
      return "dict";
    case Value::Type::kObject:
      return value.object().TypeName();
  }
  return "object";
}

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string ObjectTypeRepr(const Value& value) {
  if (value.is_none()) return "None";
  return TypeName(value) + " object";
}

std::string ToStr(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return "";
    case Value::Type::kNone:
      return "None";
    case Value::Type::kBool:
      return value.as_bool() ? "True" : "False";
    case Value::Type::kInt:
      return std::to_string(value.as_int());
    case Value::Type::kFloat:
      return FormatFloat(value.as_float());
    case Value::Type::kString:
      return value.str();
    default:
      return Repr(value);
  }
}

std::string Repr(const Value& value) {
  std::string out;
  AppendRepr(value, &out);
  return out;
}

bool Equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type() == Value::Type::kFloat || b.type() == Value::Type::kFloat) {
      return a.as_float() == b.as_float();
    }
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return true;
    case Value::Type::kString:
      return a.str() == b.str();
    case Value::Type::kSeq:
      return SeqEquals(a.seq(), b.seq());
    case Value::Type::kDict:
      return DictEquals(a.dict(), b.dict());
    case Value::Type::kObject:
      return &a.object() == &b.object();
    default:
      return false;
  }
}

Result<int> Compare(const Value& a, const Value& b, std::string_view op) {
  if (a.is_number() && b.is_number()) {
    if (a.type() == Value::Type::kFloat || b.type() == Value::Type::kFloat) {
      const double x = a.as_float();
      const double y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);  // NaN compares as equal; no ordering holds
    }
    const int64_t x = a.as_int();
    const int64_t y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_seq() && b.is_seq() && a.seq().kind == b.seq().kind &&
      (a.seq().kind == SeqKind::kList || a.seq().kind == SeqKind::kTuple)) {
    const auto& x = a.seq().items;
    const auto& y = b.seq().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equals(x[i], y[i])) return Compare(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  if (a.is_undefined() || b.is_undefined()) return UndefinedError(a.is_undefined() ? a : b);
  return RenderError(fmt::format("'{}' not supported between instances of '{}' and '{}'", op,
                                 TypeName(a), TypeName(b)));
}

Result<int64_t> Length(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return 0;
    case Value::Type::kString:
      return static_cast<int64_t>(CodePointCount(value.str()));
    case Value::Type::kSeq:
      if (value.seq().is_iterator()) break;
      return static_cast<int64_t>(value.seq().items.size());
    case Value::Type::kDict:
      return static_cast<int64_t>(value.dict().size());
    default:
      break;
  }
  return RenderError(fmt::format("object of type '{}' has no len()", TypeName(value)));
}

Result<std::vector<Value>> Iterate(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return std::vector<Value>{};
    case Value::Type::kString: {
      std::vector<Value> chars;
      const std::string& s = value.str();
      size_t pos = 0;
      while (pos < s.size()) {
        size_t end = pos + 1;
        while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) ++end;
        chars.push_back(Value::String(s.substr(pos, end - pos)));
        pos = end;
      }
      return chars;
    }
    case Value::Type::kSeq: {
      const SeqData& seq = value.seq();
      if (!seq.is_iterator()) return seq.items;
      std::vector<Value> rest(seq.items.begin() + static_cast<ptrdiff_t>(seq.consumed),
                              seq.items.end());
      seq.consumed = seq.items.size();
      return rest;
    }
    case Value::Type::kDict: {
      std::vector<Value> keys;
      keys.reserve(value.dict().size());
      for (const auto& [key, item] : value.dict().entries()) keys.push_back(key);
      return keys;
    }
    default:
      return RenderError(fmt::format("'{}' object is not iterable", TypeName(value)));
  }
}

}  // namespace wick::jinja
