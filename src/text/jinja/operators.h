// Python's operators on template values: arithmetic with int/float promotion and floor
// semantics, + and * on strings and lists, comparisons and `in`. Errors carry Python's
// messages ("can only concatenate str (not \"int\") to str").
#pragma once

#include "core/error.h"
#include "text/jinja/ast.h"
#include "text/jinja/value.h"

namespace wick::jinja {

// The arithmetic operators (and/or short-circuit in the interpreter instead).
Result<Value> BinaryOperation(BinaryOp op, const Value& left, const Value& right);
Result<Value> UnaryOperation(UnaryOp op, const Value& operand);
Result<bool> CompareValues(CompareOp op, const Value& left, const Value& right);
// `item in container`.
Result<bool> Contains(const Value& container, const Value& item);

}  // namespace wick::jinja
