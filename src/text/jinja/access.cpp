// Python's attribute and item access as Jinja2's sandbox does it (`x.name`, `x[key]`,
// `x[a:b:c]`): attributes are tried before dict keys for `.`, keys before attributes for
// `[]`, and what is missing is an undefined value that names what was missing.
#include <fmt/format.h>

#include <algorithm>

#include "text/jinja/builtins.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

Value MissingAttribute(const Value& object, std::string_view name) {
  return Value::Undefined(fmt::format("'{}' has no attribute '{}'", ObjectTypeRepr(object), name));
}

Value MissingElement(const Value& object, const Value& key) {
  if (key.is_string()) return MissingAttribute(object, key.str());
  return Value::Undefined(fmt::format("{} has no element {}", ObjectTypeRepr(object), Repr(key)));
}

// Python's slice.indices(length) walked: the indices x[start:stop:step] takes.
Result<std::vector<size_t>> SliceIndices(int64_t length, const Value& start, const Value& stop,
                                         const Value& step) {
  int64_t s = 1;
  if (!step.is_none()) s = step.as_int();
  if (s == 0) return RenderError("slice step cannot be zero");
  // A step longer than the sequence takes at most one item; clamping it keeps i + s in range.
  s = std::clamp<int64_t>(s, -(length + 1), length + 1);
  auto bound = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i += length;
    if (s > 0) return std::clamp<int64_t>(i, 0, length);
    return std::clamp<int64_t>(i, -1, length - 1);
  };
  const int64_t begin = bound(start, s > 0 ? 0 : length - 1);
  const int64_t end = bound(stop, s > 0 ? length : -1);
  std::vector<size_t> indices;
  for (int64_t i = begin; s > 0 ? i < end : i > end; i += s) {
    indices.push_back(static_cast<size_t>(i));
  }
  return indices;
}

}  // namespace

Result<Value> Interpreter::GetAttr(const Value& object, std::string_view name) const {
  switch (object.type()) {
    case Value::Type::kUndefined:
      return UndefinedError(object);
    case Value::Type::kObject:
      return object.object().GetAttr(name);
    case Value::Type::kString:
    case Value::Type::kSeq:
    case Value::Type::kDict: {
      if (std::optional<Value> method = LookupMethod(object, name)) return *method;
      if (object.is_dict()) {
        if (const Value* value = object.dict().Find(name)) return *value;
      }
      return MissingAttribute(object, name);
    }
    default:
      return MissingAttribute(object, name);
  }
}

Result<Value> Interpreter::GetItem(const Value& object, const Value& key) const {
  switch (object.type()) {
    case Value::Type::kUndefined:
      return UndefinedError(object);
    case Value::Type::kDict:
      if (const Value* value = object.dict().Find(key)) return *value;
      break;
    case Value::Type::kSeq: {
      const SeqData& seq = object.seq();
      if (key.is_int() && (seq.kind == SeqKind::kList || seq.kind == SeqKind::kTuple)) {
        int64_t index = key.as_int();
        const auto size = static_cast<int64_t>(seq.items.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) return seq.items[static_cast<size_t>(index)];
      }
      break;
    }
    case Value::Type::kString:
      if (key.is_int()) {
        const std::string& s = object.str();
        int64_t index = key.as_int();
        if (index < 0) index += static_cast<int64_t>(CodePointCount(s));
        if (index >= 0) {
          Result<std::vector<Value>> chars = Iterate(object);
          if (chars.ok() && index < static_cast<int64_t>(chars->size())) {
            return Value::StringLike(object, (*chars)[static_cast<size_t>(index)].str());
          }
        }
      }
      break;
    case Value::Type::kObject:
      if (key.is_string()) return object.object().GetAttr(key.str());
      break;
    default:
      break;
  }
  // Jinja2 falls back to the attribute of that name (d['items'] is the method if the dict
  // has no such key), then to undefined.
  if (key.is_string() && (object.is_string() || object.is_seq() || object.is_dict())) {
    if (std::optional<Value> method = LookupMethod(object, key.str())) return *method;
  }
  return MissingElement(object, key);
}

Result<Value> Interpreter::EvalItem(const ItemExpr& expr, const std::shared_ptr<Frame>& frame) {
  WICK_ASSIGN_OR_RETURN(Value object, Eval(*expr.object, frame));
  if (expr.index->kind != Expr::Kind::kSlice) {
    WICK_ASSIGN_OR_RETURN(Value key, Eval(*expr.index, frame));
    return GetItem(object, key);
  }
  const auto& slice = static_cast<const SliceExpr&>(*expr.index);
  Value parts[3] = {Value::None(), Value::None(), Value::None()};
  const ExprPtr* exprs[3] = {&slice.start, &slice.stop, &slice.step};
  for (int i = 0; i < 3; ++i) {
    if (*exprs[i] == nullptr) continue;
    WICK_ASSIGN_OR_RETURN(parts[i], Eval(**exprs[i], frame));
    if (!parts[i].is_int() && !parts[i].is_none()) {
      return Value::Undefined("slice indices must be integers or None");
    }
  }
  if (object.is_undefined()) return UndefinedError(object);
  if (object.is_string()) {
    const std::vector<uint32_t> cps = CodePoints(object.str());
    WICK_ASSIGN_OR_RETURN(
        std::vector<size_t> indices,
        SliceIndices(static_cast<int64_t>(cps.size()), parts[0], parts[1], parts[2]));
    std::string out;
    for (size_t i : indices) out += FromCodePoints(cps, i, i + 1);
    return Value::StringLike(object, std::move(out));
  }
  if (object.is_seq() &&
      (object.seq().kind == SeqKind::kList || object.seq().kind == SeqKind::kTuple)) {
    const SeqData& seq = object.seq();
    WICK_ASSIGN_OR_RETURN(
        std::vector<size_t> indices,
        SliceIndices(static_cast<int64_t>(seq.items.size()), parts[0], parts[1], parts[2]));
    WICK_RETURN_IF_ERROR(Step(static_cast<int64_t>(indices.size())));
    std::vector<Value> items;
    items.reserve(indices.size());
    for (size_t i : indices) items.push_back(seq.items[i]);
    return Value::Seq(seq.kind, std::move(items));
  }
  return Value::Undefined(fmt::format("{} has no element slice", ObjectTypeRepr(object)));
}

}  // namespace wick::jinja
