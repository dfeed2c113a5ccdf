// Jinja2's tests (`x is defined`, `x is divisibleby 3`, select("equalto", y)), with the
// Python type checks behind them: a bool is an integer in Python but `is integer` says no.
#include <fmt/format.h>

#include "text/jinja/builtins.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/operators.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

using TestFn = Result<bool> (*)(Interpreter& interpreter, const Value& value,
                                const std::vector<Value>& args);

struct TestEntry {
  std::string_view name;
  int arity;  // arguments after the value
  TestFn fn;
};

Result<bool> Defined(Interpreter&, const Value& v, const std::vector<Value>&) {
  return !v.is_undefined();
}
Result<bool> Undefined(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_undefined();
}
Result<bool> None(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_none();
}
Result<bool> Boolean(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.type() == Value::Type::kBool;
}
Result<bool> False(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.type() == Value::Type::kBool && !v.as_bool();
}
Result<bool> True(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.type() == Value::Type::kBool && v.as_bool();
}
Result<bool> Integer(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.type() == Value::Type::kInt;
}
Result<bool> Float(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.type() == Value::Type::kFloat;
}
Result<bool> Number(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_number();
}
Result<bool> String(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_string();
}
Result<bool> Mapping(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_dict();
}
// Anything `for` accepts; Jinja2's default Undefined iterates as empty.
Result<bool> Iterable(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_undefined() || v.is_string() || v.is_seq() || v.is_dict();
}
// Has a length and items: str, list, tuple, dict (and undefined, which fakes both).
Result<bool> Sequence(Interpreter&, const Value& v, const std::vector<Value>&) {
  if (v.is_seq()) return v.seq().kind == SeqKind::kList || v.seq().kind == SeqKind::kTuple;
  return v.is_undefined() || v.is_string() || v.is_dict();
}
Result<bool> Callable(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_undefined() || (v.is_object() && v.object().callable());
}
Result<bool> Escaped(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_markup();
}
Result<bool> Lower(Interpreter&, const Value& v, const std::vector<Value>&) {
  return PyIsLower(ToStr(v));
}
Result<bool> Upper(Interpreter&, const Value& v, const std::vector<Value>&) {
  return PyIsUpper(ToStr(v));
}

Result<bool> Remainder(const Value& v, int64_t divisor, int64_t expected) {
  WICK_ASSIGN_OR_RETURN(Value rest, BinaryOperation(BinaryOp::kMod, v, Value::Int(divisor)));
  return Equals(rest, Value::Int(expected));
}
Result<bool> Odd(Interpreter&, const Value& v, const std::vector<Value>&) {
  return Remainder(v, 2, 1);
}
Result<bool> Even(Interpreter&, const Value& v, const std::vector<Value>&) {
  return Remainder(v, 2, 0);
}
Result<bool> DivisibleBy(Interpreter&, const Value& v, const std::vector<Value>& args) {
  WICK_ASSIGN_OR_RETURN(Value rest, BinaryOperation(BinaryOp::kMod, v, args[0]));
  return Equals(rest, Value::Int(0));
}

Result<bool> SameAs(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return v.SameObject(args[0]);
}
Result<bool> In(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return Contains(args[0], v);
}
Result<bool> Eq(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return Equals(v, args[0]);
}
Result<bool> Ne(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return !Equals(v, args[0]);
}
Result<bool> Lt(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return CompareValues(CompareOp::kLt, v, args[0]);
}
Result<bool> Le(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return CompareValues(CompareOp::kLe, v, args[0]);
}
Result<bool> Gt(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return CompareValues(CompareOp::kGt, v, args[0]);
}
Result<bool> Ge(Interpreter&, const Value& v, const std::vector<Value>& args) {
  return CompareValues(CompareOp::kGe, v, args[0]);
}
Result<bool> IsFilter(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_string() && IsKnownFilter(v.str());
}
Result<bool> IsTest(Interpreter&, const Value& v, const std::vector<Value>&) {
  return v.is_string() && IsKnownTest(v.str());
}

constexpr TestEntry kTests[] = {
    {"defined", 0, Defined},
    {"undefined", 0, Undefined},
    {"none", 0, None},
    {"boolean", 0, Boolean},
    {"false", 0, False},
    {"true", 0, True},
    {"integer", 0, Integer},
    {"float", 0, Float},
    {"number", 0, Number},
    {"string", 0, String},
    {"mapping", 0, Mapping},
    {"iterable", 0, Iterable},
    {"sequence", 0, Sequence},
    {"callable", 0, Callable},
    {"escaped", 0, Escaped},
    {"lower", 0, Lower},
    {"upper", 0, Upper},
    {"odd", 0, Odd},
    {"even", 0, Even},
    {"divisibleby", 1, DivisibleBy},
    {"sameas", 1, SameAs},
    {"in", 1, In},
    {"eq", 1, Eq},
    {"equalto", 1, Eq},
    {"==", 1, Eq},
    {"ne", 1, Ne},
    {"!=", 1, Ne},
    {"lt", 1, Lt},
    {"lessthan", 1, Lt},
    {"<", 1, Lt},
    {"le", 1, Le},
    {"<=", 1, Le},
    {"gt", 1, Gt},
    {"greaterthan", 1, Gt},
    {">", 1, Gt},
    {"ge", 1, Ge},
    {">=", 1, Ge},
    {"filter", 0, IsFilter},
    {"test", 0, IsTest},
};

const TestEntry* FindTest(std::string_view name) {
  for (const TestEntry& entry : kTests) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace

bool IsKnownTest(std::string_view name) {
  return FindTest(name) != nullptr;
}

Result<bool> ApplyTest(Interpreter& interpreter, std::string_view name, const Value& input,
                       CallArgs args) {
  const TestEntry* entry = FindTest(name);
  if (entry == nullptr) return RenderError(fmt::format("no test named '{}'", name));
  int64_t work = 1 + WorkOf(input);
  for (const Value& arg : args.positional) work += WorkOf(arg);
  WICK_RETURN_IF_ERROR(interpreter.Step(work));
  static constexpr std::string_view kArgNames[] = {"value"};
  std::vector<Value> bound;
  if (entry->arity == 1) {
    WICK_ASSIGN_OR_RETURN(bound, BindArgs(fmt::format("test '{}'", name), std::move(args),
                                          {{kArgNames[0], {}, true}}));
  } else {
    WICK_RETURN_IF_ERROR(BindArgs(fmt::format("test '{}'", name), std::move(args), {}));
  }
  return entry->fn(interpreter, input, bound);
}

}  // namespace wick::jinja
