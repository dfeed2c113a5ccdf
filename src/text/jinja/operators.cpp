#include "text/jinja/operators.h"

#include <fmt/format.h>

#include <cmath>

#include "text/jinja/builtins.h"

namespace wick::jinja {
namespace {

std::string_view Symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kFloorDiv:
      return "//";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "**";
    default:
      return "?";
  }
}

Error Unsupported(BinaryOp op, const Value& a, const Value& b) {
  return RenderError(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", Symbol(op),
                                 TypeName(a), TypeName(b)));
}

Error Overflow() {
  return Error(ErrorCode::kUnsupported, "integer result does not fit in 64 bits");
}

bool IsListLike(const Value& v) {
  return v.is_seq() && (v.seq().kind == SeqKind::kList || v.seq().kind == SeqKind::kTuple);
}

// s * n and list * n.
Result<Value> Repeat(const Value& sequence, int64_t times) {
  if (sequence.is_string()) {
    const std::string& s = sequence.str();
    if (times <= 0 || s.empty()) return Value::StringLike(sequence, "");
    if (static_cast<uint64_t>(times) > kMaxStringBytes / s.size()) {
      return Error(ErrorCode::kUnsupported, "repeated string is too long");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value::StringLike(sequence, std::move(out));
  }
  const SeqData& seq = sequence.seq();
  if (times <= 0 || seq.items.empty()) return Value::Seq(seq.kind, {});
  if (static_cast<uint64_t>(times) > kMaxItems / seq.items.size()) {
    return Error(ErrorCode::kUnsupported, "repeated list is too long");
  }
  std::vector<Value> items;
  items.reserve(seq.items.size() * static_cast<size_t>(times));
  for (int64_t i = 0; i < times; ++i) items.insert(items.end(), seq.items.begin(), seq.items.end());
  return Value::Seq(seq.kind, std::move(items));
}

Result<Value> Add(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type() == Value::Type::kFloat || b.type() == Value::Type::kFloat) {
      return Value::Float(a.as_float() + b.as_float());
    }
    int64_t sum = 0;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &sum)) return Overflow();
    return Value::Int(sum);
  }
  if (a.is_string() && b.is_string()) {
    WICK_RETURN_IF_ERROR(CheckLength(static_cast<int64_t>(a.str().size() + b.str().size())));
    // Markup + str escapes the plain side (markupsafe), whichever side it is on.
    if (a.is_markup() || b.is_markup()) {
      return Value::Markup((a.is_markup() ? a.str() : EscapeHtml(a.str())) +
                           (b.is_markup() ? b.str() : EscapeHtml(b.str())));
    }
    return Value::String(a.str() + b.str());
  }
  if (IsListLike(a) && IsListLike(b) && a.seq().kind == b.seq().kind) {
    if (a.seq().items.size() + b.seq().items.size() > kMaxItems) {
      return Error(ErrorCode::kUnsupported, "list is too long");
    }
    std::vector<Value> items = a.seq().items;
    items.insert(items.end(), b.seq().items.begin(), b.seq().items.end());
    return Value::Seq(a.seq().kind, std::move(items));
  }
  if (a.is_string() || IsListLike(a)) {
    return RenderError(fmt::format("can only concatenate {} (not \"{}\") to {}", TypeName(a),
                                   TypeName(b), TypeName(a)));
  }
  return Unsupported(BinaryOp::kAdd, a, b);
}

Result<Value> Multiply(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type() == Value::Type::kFloat || b.type() == Value::Type::kFloat) {
      return Value::Float(a.as_float() * b.as_float());
    }
    int64_t product = 0;
    if (__builtin_mul_overflow(a.as_int(), b.as_int(), &product)) return Overflow();
    return Value::Int(product);
  }
  const bool a_seq = a.is_string() || IsListLike(a);
  const bool b_seq = b.is_string() || IsListLike(b);
  if (a_seq && b.is_int()) return Repeat(a, b.as_int());
  if (b_seq && a.is_int()) return Repeat(b, a.as_int());
  if (a_seq || b_seq) {
    return RenderError(
        fmt::format("can't multiply sequence by non-int of type '{}'", TypeName(a_seq ? b : a)));
  }
  return Unsupported(BinaryOp::kMul, a, b);
}

// Python's float floor division and modulo (the result of % takes the divisor's sign).
void FloatDivMod(double x, double y, double* floordiv, double* mod) {
  double m = std::fmod(x, y);
  double div = (x - m) / y;
  if (m != 0.0) {
    if ((y < 0) != (m < 0)) {
      m += y;
      div -= 1.0;
    }
  } else {
    m = std::copysign(0.0, y);
  }
  double floored = 0.0;
  if (div != 0.0) {
    floored = std::floor(div);
    if (div - floored > 0.5) floored += 1.0;
  } else {
    floored = std::copysign(0.0, x / y);
  }
  *floordiv = floored;
  *mod = m;
}

Result<Value> Arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) return Unsupported(op, a, b);
  const bool floats = a.type() == Value::Type::kFloat || b.type() == Value::Type::kFloat;
  switch (op) {
    case BinaryOp::kSub: {
      if (floats) return Value::Float(a.as_float() - b.as_float());
      int64_t diff = 0;
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &diff)) return Overflow();
      return Value::Int(diff);
    }
    case BinaryOp::kDiv:
      if (b.as_float() == 0.0) return RenderError("division by zero");
      return Value::Float(a.as_float() / b.as_float());
    case BinaryOp::kFloorDiv:
    case BinaryOp::kMod: {
      if (floats) {
        if (b.as_float() == 0.0) {
          return RenderError(op == BinaryOp::kMod ? "float modulo"
                                                  : "float floor division by zero");
        }
        double div = 0;
        double mod = 0;
        FloatDivMod(a.as_float(), b.as_float(), &div, &mod);
        return Value::Float(op == BinaryOp::kMod ? mod : div);
      }
      const int64_t x = a.as_int();
      const int64_t y = b.as_int();
      if (y == 0) return RenderError("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) {
        if (op == BinaryOp::kMod) return Value::Int(0);
        return Overflow();
      }
      int64_t q = x / y;
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        r += y;
        q -= 1;
      }
      return Value::Int(op == BinaryOp::kMod ? r : q);
    }
    case BinaryOp::kPow: {
      if (!floats && b.as_int() >= 0) {
        int64_t result = 1;
        int64_t base = a.as_int();
        int64_t exponent = b.as_int();
        while (exponent > 0) {
          if ((exponent & 1) != 0 && __builtin_mul_overflow(result, base, &result)) {
            return Overflow();
          }
          exponent >>= 1;
          if (exponent > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
        }
        return Value::Int(result);
      }
      const double x = a.as_float();
      const double y = b.as_float();
      if (x == 0.0 && y < 0) return RenderError("0.0 cannot be raised to a negative power");
      if (x < 0 && y != std::floor(y)) {
        return Error(ErrorCode::kUnsupported, "complex numbers are not supported");
      }
      const double result = std::pow(x, y);
      if (std::isinf(result) && std::isfinite(x) && std::isfinite(y)) {
        return RenderError("(34, 'Numerical result out of range')");  // Python's OverflowError
      }
      return Value::Float(result);
    }
    default:
      return Unsupported(op, a, b);
  }
}

}  // namespace

Result<Value> BinaryOperation(BinaryOp op, const Value& left, const Value& right) {
  if (left.is_undefined()) return UndefinedError(left);
  if (right.is_undefined() && !(op == BinaryOp::kMod && left.is_string())) {
    return UndefinedError(right);
  }
  switch (op) {
    case BinaryOp::kAdd:
      return Add(left, right);
    case BinaryOp::kMul:
      return Multiply(left, right);
    case BinaryOp::kMod:
      if (left.is_string()) {
        WICK_ASSIGN_OR_RETURN(std::string text, PercentFormat(left.str(), right, left.is_markup()));
        return Value::StringLike(left, std::move(text));
      }
      return Arithmetic(op, left, right);
    default:
      return Arithmetic(op, left, right);
  }
}

Result<Value> UnaryOperation(UnaryOp op, const Value& operand) {
  if (op == UnaryOp::kNot) return Value::Bool(!Truthy(operand));
  if (operand.is_undefined()) return UndefinedError(operand);
  if (!operand.is_number()) {
    return RenderError(fmt::format("bad operand type for unary {}: '{}'",
                                   op == UnaryOp::kNeg ? "-" : "+", TypeName(operand)));
  }
  if (operand.type() == Value::Type::kFloat) {
    return Value::Float(op == UnaryOp::kNeg ? -operand.as_float() : operand.as_float());
  }
  if (op == UnaryOp::kPos) return Value::Int(operand.as_int());
  if (operand.as_int() == INT64_MIN) return Overflow();
  return Value::Int(-operand.as_int());
}

Result<bool> Contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::kUndefined:
      return false;
    case Value::Type::kString:
      if (!item.is_string()) {
        return RenderError(
            fmt::format("'in <string>' requires string as left operand, not {}", TypeName(item)));
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Type::kSeq: {
      const SeqData& seq = container.seq();
      if (seq.kind == SeqKind::kDictKeys &&
          (item.is_dict() || (item.is_seq() && item.seq().kind != SeqKind::kTuple))) {
        return RenderError(fmt::format("unhashable type: '{}'", TypeName(item)));
      }
      const size_t first = seq.is_iterator() ? seq.consumed : 0;
      for (size_t i = first; i < seq.items.size(); ++i) {
        if (Equals(seq.items[i], item)) return true;
      }
      return false;
    }
    case Value::Type::kDict:
      if (item.is_dict() || (item.is_seq() && item.seq().kind != SeqKind::kTuple)) {
        return RenderError(fmt::format("unhashable type: '{}'", TypeName(item)));
      }
      return container.dict().Find(item) != nullptr;
    default:
      return RenderError(fmt::format("argument of type '{}' is not iterable", TypeName(container)));
  }
}

Result<bool> CompareValues(CompareOp op, const Value& left, const Value& right) {
  switch (op) {
    case CompareOp::kEq:
      return Equals(left, right);
    case CompareOp::kNe:
      return !Equals(left, right);
    case CompareOp::kIn:
      return Contains(right, left);
    case CompareOp::kNotIn: {
      WICK_ASSIGN_OR_RETURN(bool found, Contains(right, left));
      return !found;
    }
    case CompareOp::kLt: {
      WICK_ASSIGN_OR_RETURN(int c, Compare(left, right, "<"));
      return c < 0;
    }
    case CompareOp::kLe: {
      WICK_ASSIGN_OR_RETURN(int c, Compare(left, right, "<="));
      return c <= 0;
    }
    case CompareOp::kGt: {
      WICK_ASSIGN_OR_RETURN(int c, Compare(left, right, ">"));
      return c > 0;
    }
    case CompareOp::kGe: {
      WICK_ASSIGN_OR_RETURN(int c, Compare(left, right, ">="));
      return c >= 0;
    }
  }
  return false;
}

}  // namespace wick::jinja
