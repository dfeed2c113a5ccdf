// The values a Jinja2 template computes with, modelled on the Python objects Jinja2 sees:
// None, bool, int, float, str, list/tuple (and dict views and one-shot generators), dict with
// insertion order, and objects (namespace(), loop, macros, bound methods). Printing, equality,
// ordering, truthiness and iteration follow Python, so templates render as transformers does.
//
// Strings, sequences and dicts are immutable and shared; only namespaces change in place
// (`{% set ns.x = 1 %}`), which is also all that Jinja2's immutable sandbox allows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace wick::jinja {

class Interpreter;
class Object;
class Value;

// How deeply values may nest (lists in dicts in lists...). Beyond Python's own limits for
// any real template; it keeps recursive printing and destruction off the end of the stack.
inline constexpr uint32_t kMaxValueDepth = 512;
// Size limits for what a template builds ('x' * n, range(n), output): far beyond any prompt,
// small enough that a hostile template cannot exhaust memory.
inline constexpr size_t kMaxStringBytes = size_t{32} << 20;
inline constexpr size_t kMaxItems = size_t{1} << 20;

enum class SeqKind : uint8_t {
  kList,
  kTuple,
  // dict.keys() / values() / items(): sized and iterable, not subscriptable.
  kDictKeys,
  kDictValues,
  kDictItems,
  // What filters such as map and select return: truthy even when empty, no len(), and used
  // up by the first iteration.
  kGenerator,
  kReverseIterator,
};

struct SeqData;
class DictData;

class Value {
 public:
  enum class Type : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kSeq,
    kDict,
    kObject
  };

  Value() = default;  // undefined, with the generic message
  // An undefined value; `message` is what an error caused by using it says.
  static Value Undefined(std::string message);
  static Value None();
  static Value Bool(bool value);
  static Value Int(int64_t value);
  static Value Float(double value);
  static Value String(std::string value);
  // A markupsafe.Markup string (from |safe or |escape): `+` and `%` HTML-escape the plain
  // strings combined with it, which some templates rely on without meaning to.
  static Value Markup(std::string value);
  // Text with the markup-ness of `like`, for operations that keep it (Markup.upper()...).
  static Value StringLike(const Value& like, std::string value);
  static Value Seq(SeqKind kind, std::vector<Value> items);
  static Value List(std::vector<Value> items) { return Seq(SeqKind::kList, std::move(items)); }
  static Value Tuple(std::vector<Value> items) { return Seq(SeqKind::kTuple, std::move(items)); }
  static Value Dict(DictData dict);
  static Value Object(std::shared_ptr<jinja::Object> object);

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_undefined() const { return type() == Type::kUndefined; }
  bool is_none() const { return type() == Type::kNone; }
  bool is_string() const { return type() == Type::kString; }
  bool is_markup() const { return is_string() && std::get<StringPtr>(data_)->markup; }
  bool is_seq() const { return type() == Type::kSeq; }
  bool is_dict() const { return type() == Type::kDict; }
  bool is_object() const { return type() == Type::kObject; }
  // bool counts as an int, as in Python.
  bool is_int() const { return type() == Type::kInt || type() == Type::kBool; }
  bool is_number() const { return is_int() || type() == Type::kFloat; }

  bool as_bool() const { return std::get<bool>(data_); }
  // The integer of an int or a bool.
  int64_t as_int() const;
  // Any number as a double.
  double as_float() const;
  const std::string& str() const { return std::get<StringPtr>(data_)->text; }
  const SeqData& seq() const { return *std::get<SeqPtr>(data_); }
  const DictData& dict() const { return *std::get<DictPtr>(data_); }
  jinja::Object& object() const { return *std::get<ObjectPtr>(data_); }
  const std::shared_ptr<jinja::Object>& object_ptr() const { return std::get<ObjectPtr>(data_); }
  // The message of the error that using this undefined value raises.
  std::string undefined_message() const;
  // 0 for scalars, 1 + the deepest element for sequences, dicts and namespaces.
  uint32_t depth() const;
  // Whether two sequences, dicts or objects are the same object (Python's `is`).
  bool SameObject(const Value& other) const;

 private:
  struct UndefinedData {
    std::shared_ptr<const std::string> message;
  };
  struct StringData {
    std::string text;
    bool markup = false;
  };
  using StringPtr = std::shared_ptr<const StringData>;
  using SeqPtr = std::shared_ptr<const SeqData>;
  using DictPtr = std::shared_ptr<const DictData>;
  using ObjectPtr = std::shared_ptr<jinja::Object>;

  std::variant<UndefinedData, std::monostate, bool, int64_t, double, StringPtr, SeqPtr, DictPtr,
               ObjectPtr>
      data_;
};

struct SeqData {
  SeqKind kind = SeqKind::kList;
  std::vector<Value> items;
  uint32_t depth = 1;
  // One-shot iterators: how many items have been taken already.
  mutable size_t consumed = 0;

  bool is_iterator() const {
    return kind == SeqKind::kGenerator || kind == SeqKind::kReverseIterator;
  }
};

// A Python dict: keys of any hashable value, in insertion order.
class DictData {
 public:
  const Value* Find(const Value& key) const;
  const Value* Find(std::string_view key) const;
  // Replaces the value of an existing key (keeping its place) or appends.
  void Set(Value key, Value value);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  // 1 + the deepest value (an upper bound once values are replaced).
  uint32_t depth() const { return depth_; }

 private:
  // Big dicts (a tool schema with many properties) also index their string keys, so that
  // building and reading them stays linear.
  static constexpr size_t kIndexFrom = 16;
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  size_t IndexOf(const Value& key) const;
  size_t IndexOf(std::string_view key) const;

  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
  uint32_t depth_ = 1;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Python objects that are not plain data: namespaces, loop contexts, macros, functions.
class Object {
 public:
  virtual ~Object() = default;
  // Python's type(x).__name__ ("Namespace", "LoopContext", "Macro", ...).
  virtual std::string TypeName() const = 0;
  virtual std::string Repr() const = 0;
  // An attribute, or an undefined value saying the object has none.
  virtual Value GetAttr(std::string_view name) const;
  virtual bool callable() const { return false; }
  virtual Result<Value> Call(Interpreter& interpreter, CallArgs args) const;
  // How deeply values nest inside this object (see Value::depth).
  virtual uint32_t depth() const { return 1; }
};

// An error a template causes while rendering (Python's TypeError, UndefinedError, ...).
Error RenderError(std::string message);
// The error that using an undefined value for something it cannot do raises.
Error UndefinedError(const Value& undefined);

bool Truthy(const Value& value);
// Python's type(x).__name__: "NoneType", "str", "dict", "list", ...
std::string TypeName(const Value& value);
// markupsafe.escape: & < > " ' as HTML entities.
std::string EscapeHtml(std::string_view text);
// How Jinja2 names the owner of a missing attribute: "None", or "dict object".
std::string ObjectTypeRepr(const Value& value);
// str(x) (undefined values print as nothing) and repr(x).
std::string ToStr(const Value& value);
std::string Repr(const Value& value);
// Python's ==.
bool Equals(const Value& a, const Value& b);
// How much work handling `value` takes, in interpreter steps: one per item of a sequence or
// dict, one per 16 bytes of a string. Keeps the work budget honest for big values.
int64_t WorkOf(const Value& value);
// Python's ordering: negative, zero or positive; a TypeError for unorderable types. `op`
// names the operator in that error ("<").
Result<int> Compare(const Value& a, const Value& b, std::string_view op);
// len(x).
Result<int64_t> Length(const Value& value);
// The items `for x in value` visits; a generator is used up by this.
Result<std::vector<Value>> Iterate(const Value& value);

}  // namespace wick::jinja
