#include "text/jinja/interpreter.h"

#include <fmt/format.h>

#include "text/jinja/builtins.h"
#include "text/jinja/operators.h"
#include "text/jinja/py_str.h"

namespace wick::jinja {
namespace {

// A template that does more work than this is looping without end (a real chat template
// renders in thousands of steps, a huge conversation with tools in a few hundred thousand).
constexpr int64_t kMaxSteps = 10'000'000;
// Nested evaluation (expressions in statements in macro calls...): Python's recursion limit
// stops Jinja2 at a similar depth; here it keeps the C++ stack safe.
constexpr int kMaxRecursion = 600;

// The `loop` variable of a for loop.
class LoopContext : public Object, public std::enable_shared_from_this<LoopContext> {
 public:
  explicit LoopContext(std::shared_ptr<const std::vector<Value>> items)
      : items_(std::move(items)) {}

  void set_index0(size_t index0) { index0_ = index0; }
  // Forgets what changed() saw, which may be the loop itself: a reference cycle otherwise.
  void Finish() { last_changed_ = Value(); }
  std::string TypeName() const override { return "LoopContext"; }
  std::string Repr() const override {
    return fmt::format("<LoopContext {}/{}>", index0_ + 1, items_->size());
  }

  Value GetAttr(std::string_view name) const override {
    const auto length = static_cast<int64_t>(items_->size());
    const auto index0 = static_cast<int64_t>(index0_);
    if (name == "index") return Value::Int(index0 + 1);
    if (name == "index0") return Value::Int(index0);
    if (name == "revindex") return Value::Int(length - index0);
    if (name == "revindex0") return Value::Int(length - index0 - 1);
    if (name == "first") return Value::Bool(index0 == 0);
    if (name == "last") return Value::Bool(index0 + 1 == length);
    if (name == "length") return Value::Int(length);
    if (name == "depth") return Value::Int(1);
    if (name == "depth0") return Value::Int(0);
    if (name == "previtem") {
      if (index0 == 0) return Value::Undefined("there is no previous item");
      return (*items_)[index0_ - 1];
    }
    if (name == "nextitem") {
      if (index0 + 1 >= length) return Value::Undefined("there is no next item");
      return (*items_)[index0_ + 1];
    }
    if (name == "cycle") return Function::Make("cycle", Value::Int(index0), Cycle);
    if (name == "changed") {
      auto self = std::const_pointer_cast<LoopContext>(shared_from_this());
      return Function::Make("changed", Value::Object(std::move(self)), Changed);
    }
    return Object::GetAttr(name);
  }

 private:
  static Result<Value> Cycle(Interpreter&, const Value& self, CallArgs args) {
    if (args.positional.empty()) return RenderError("no items for cycling given");
    return args.positional[static_cast<size_t>(self.as_int()) % args.positional.size()];
  }

  static Result<Value> Changed(Interpreter&, const Value& self, CallArgs args) {
    auto& loop = static_cast<LoopContext&>(self.object());
    Value values = Value::Tuple(std::move(args.positional));
    if (loop.has_last_ && Equals(loop.last_changed_, values)) return Value::Bool(false);
    loop.last_changed_ = std::move(values);
    loop.has_last_ = true;
    return Value::Bool(true);
  }

  std::shared_ptr<const std::vector<Value>> items_;
  size_t index0_ = 0;
  Value last_changed_;
  bool has_last_ = false;
};

}  // namespace

size_t Frame::IndexOf(std::string_view name) const {
  if (!index_.empty()) {
    const auto it = index_.find(std::string(name));
    return it == index_.end() ? kNotFound : it->second;
  }
  for (size_t i = 0; i < vars_.size(); ++i) {
    if (vars_[i].first == name) return i;
  }
  return kNotFound;
}

const Value* Frame::Find(std::string_view name) const {
  for (const Frame* frame = this; frame != nullptr; frame = frame->parent_.get()) {
    const size_t i = frame->IndexOf(name);
    if (i != kNotFound) return &frame->vars_[i].second;
  }
  return nullptr;
}

void Frame::Set(std::string_view name, Value value) {
  if (const size_t i = IndexOf(name); i != kNotFound) {
    vars_[i].second = std::move(value);
    return;
  }
  vars_.emplace_back(std::string(name), std::move(value));
  if (vars_.size() == kIndexFrom) {
    for (size_t i = 0; i < vars_.size(); ++i) index_.emplace(vars_[i].first, i);
  } else if (vars_.size() > kIndexFrom) {
    index_.emplace(vars_.back().first, vars_.size() - 1);
  }
}

Value Macro::GetAttr(std::string_view name) const {
  if (name == "name") return Value::String(stmt_->name);
  if (name == "arguments") {
    std::vector<Value> names;
    for (const MacroParam& param : stmt_->params) names.push_back(Value::String(param.name));
    return Value::Tuple(std::move(names));
  }
  if (name == "catch_varargs") return Value::Bool(stmt_->uses_varargs);
  if (name == "catch_kwargs") return Value::Bool(stmt_->uses_kwargs);
  if (name == "caller") return Value::Bool(stmt_->uses_caller);
  return Object::GetAttr(name);
}

Result<Value> Macro::Call(Interpreter& interpreter, CallArgs args) const {
  return interpreter.CallMacro(*stmt_, closure_.lock(), std::move(args));
}

Interpreter::~Interpreter() {
  // Namespaces are the only values that can refer to themselves; emptying them frees cycles.
  // All are held first, so that emptying one never destroys a long chain recursively.
  std::vector<std::shared_ptr<Namespace>> alive;
  for (const auto& weak : namespaces_) {
    if (auto ns = weak.lock()) alive.push_back(std::move(ns));
  }
  for (const auto& ns : alive) ns->Clear();
}

Result<std::string> Interpreter::Render(const Body& body, const Value& context) {
  root_ = std::make_shared<Frame>(nullptr);
  for (auto& [name, value] : Globals()) root_->Set(name, std::move(value));
  for (const auto& [key, value] : context.dict().entries()) {
    if (key.is_string()) root_->Set(key.str(), value);
  }
  std::string out;
  Result<Flow> flow = Execute(body, root_, &out);
  if (!flow.ok()) {
    Error error = std::move(flow).error();
    if (error.code() == ErrorCode::kInvalidArgument || error_line_ == 0) return error;
    return std::move(error).With(fmt::format("line {}", error_line_));
  }
  return out;
}

Status Interpreter::Step(int64_t units) {
  steps_ += units;
  if (steps_ > kMaxSteps) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("template did more than {} steps of work", kMaxSteps));
  }
  return OkStatus();
}

Status Interpreter::CheckSize(size_t bytes) const {
  if (bytes > kMaxStringBytes) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("template output exceeds {} MiB", kMaxStringBytes >> 20));
  }
  return OkStatus();
}

Status Interpreter::Emit(std::string_view text, std::string* out) {
  WICK_RETURN_IF_ERROR(CheckSize(out->size() + text.size()));
  WICK_RETURN_IF_ERROR(Step(static_cast<int64_t>(text.size() / 16)));
  out->append(text);
  return OkStatus();
}

Result<Interpreter::Flow> Interpreter::Execute(const Body& body,
                                               const std::shared_ptr<Frame>& frame,
                                               std::string* out) {
  for (const StmtPtr& stmt : body) {
    WICK_ASSIGN_OR_RETURN(Flow flow, ExecuteStmt(*stmt, frame, out));
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::ExecuteStmt(const Stmt& stmt,
                                                   const std::shared_ptr<Frame>& frame,
                                                   std::string* out) {
  RecursionGuard guard(this);
  // Reports the statement's line unless something inside it already named a better one.
  auto fail = [&](Error error) -> Result<Flow> {
    NoteErrorLine(stmt.line);
    return error;
  };
  if (recursion_ > kMaxRecursion) {
    return fail(Error(ErrorCode::kUnsupported, "template nesting or macro recursion is too deep"));
  }
  if (Status step = Step(); !step.ok()) return fail(std::move(step).error());
  switch (stmt.kind) {
    case Stmt::Kind::kText: {
      Status status = Emit(static_cast<const TextStmt&>(stmt).text, out);
      if (!status.ok()) return fail(std::move(status).error());
      return Flow::kNormal;
    }
    case Stmt::Kind::kOutput: {
      Result<Value> value = Eval(*static_cast<const OutputStmt&>(stmt).expr, frame);
      if (!value.ok()) return fail(std::move(value).error());
      Status status = Emit(ToStr(*value), out);
      if (!status.ok()) return fail(std::move(status).error());
      return Flow::kNormal;
    }
    case Stmt::Kind::kIf: {
      const auto& s = static_cast<const IfStmt&>(stmt);
      for (const auto& [test, body] : s.branches) {
        Result<Value> value = Eval(*test, frame);
        if (!value.ok()) return fail(std::move(value).error());
        if (Truthy(*value)) return Execute(body, frame, out);
      }
      return Execute(s.otherwise, frame, out);
    }
    case Stmt::Kind::kFor:
      return ExecuteFor(static_cast<const ForStmt&>(stmt), frame, out);
    case Stmt::Kind::kSet: {
      const auto& s = static_cast<const SetStmt&>(stmt);
      Result<Value> value = Eval(*s.value, frame);
      if (!value.ok()) return fail(std::move(value).error());
      Status status = Assign(s.target, *value, *frame);
      if (!status.ok()) return fail(std::move(status).error());
      return Flow::kNormal;
    }
    case Stmt::Kind::kSetBlock: {
      const auto& s = static_cast<const SetBlockStmt&>(stmt);
      std::string text;
      // The body has its own scope: what it sets stays inside.
      WICK_ASSIGN_OR_RETURN(Flow flow, Execute(s.body, std::make_shared<Frame>(frame), &text));
      Value value = Value::String(std::move(text));
      if (s.filter) {
        Result<Value> filtered =
            EvalFilter(static_cast<const FilterExpr&>(*s.filter), frame, &value);
        if (!filtered.ok()) return fail(std::move(filtered).error());
        value = std::move(filtered).value();
      }
      Status status = Assign(s.target, value, *frame);
      if (!status.ok()) return fail(std::move(status).error());
      return flow;
    }
    case Stmt::Kind::kMacro: {
      const auto& s = static_cast<const MacroStmt&>(stmt);
      frame->Set(s.name, Value::Object(std::make_shared<Macro>(&s, frame)));
      return Flow::kNormal;
    }
    case Stmt::Kind::kCallBlock: {
      Status status = ExecuteCallBlock(static_cast<const CallBlockStmt&>(stmt), frame, out);
      if (!status.ok()) return fail(std::move(status).error());
      return Flow::kNormal;
    }
    case Stmt::Kind::kFilterBlock: {
      const auto& s = static_cast<const FilterBlockStmt&>(stmt);
      std::string text;
      WICK_ASSIGN_OR_RETURN(Flow flow, Execute(s.body, std::make_shared<Frame>(frame), &text));
      const Value input = Value::String(std::move(text));
      Result<Value> filtered = EvalFilter(static_cast<const FilterExpr&>(*s.filter), frame, &input);
      if (!filtered.ok()) return fail(std::move(filtered).error());
      Status status = Emit(ToStr(*filtered), out);
      if (!status.ok()) return fail(std::move(status).error());
      return flow;
    }
    case Stmt::Kind::kScope: {
      const auto& s = static_cast<const ScopeStmt&>(stmt);
      auto inner = std::make_shared<Frame>(frame);
      for (const auto& [name, expr] : s.assignments) {
        Result<Value> value = Eval(*expr, frame);
        if (!value.ok()) return fail(std::move(value).error());
        inner->Set(name, std::move(value).value());
      }
      return Execute(s.body, inner, out);
    }
    case Stmt::Kind::kBreak:
      return Flow::kBreak;
    case Stmt::Kind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::ExecuteFor(const ForStmt& stmt,
                                                  const std::shared_ptr<Frame>& frame,
                                                  std::string* out) {
  auto fail = [&](Error error) -> Result<Flow> {
    NoteErrorLine(stmt.line);
    return error;
  };
  Result<Value> iterable = Eval(*stmt.iterable, frame);
  if (!iterable.ok()) return fail(std::move(iterable).error());
  Result<std::vector<Value>> all = Iterate(*iterable);
  if (!all.ok()) return fail(std::move(all).error());
  auto items = std::make_shared<std::vector<Value>>();
  if (stmt.filter) {
    // `for x in xs if cond`: the loop (and loop.length) sees only the items that pass.
    for (Value& item : *all) {
      auto scope = std::make_shared<Frame>(frame);
      Status assigned = Assign(stmt.target, item, *scope);
      if (!assigned.ok()) return fail(std::move(assigned).error());
      Result<Value> keep = Eval(*stmt.filter, scope);
      if (!keep.ok()) return fail(std::move(keep).error());
      if (Truthy(*keep)) items->push_back(std::move(item));
    }
  } else {
    *items = std::move(all).value();
  }
  auto loop = std::make_shared<LoopContext>(items);
  const Value loop_value = Value::Object(loop);
  struct FinishLoop {
    LoopContext* loop;
    ~FinishLoop() { loop->Finish(); }
  } finish_loop{loop.get()};
  // Jinja2 runs the else block unless an iteration reached the end of the body: a loop whose
  // iterations all end in break or continue runs it too.
  bool completed_an_iteration = false;
  for (size_t i = 0; i < items->size(); ++i) {
    if (Status step = Step(); !step.ok()) return fail(std::move(step).error());
    loop->set_index0(i);
    // A fresh scope each time: what the body sets is gone in the next iteration.
    auto scope = std::make_shared<Frame>(frame);
    scope->Set("loop", loop_value);
    Status assigned = Assign(stmt.target, (*items)[i], *scope);
    if (!assigned.ok()) return fail(std::move(assigned).error());
    WICK_ASSIGN_OR_RETURN(Flow flow, Execute(stmt.body, scope, out));
    if (flow == Flow::kBreak) break;
    completed_an_iteration |= flow == Flow::kNormal;
  }
  if (!completed_an_iteration) {
    return Execute(stmt.otherwise, std::make_shared<Frame>(frame), out);
  }
  return Flow::kNormal;
}

Status Interpreter::ExecuteCallBlock(const CallBlockStmt& stmt, const std::shared_ptr<Frame>& frame,
                                     std::string* out) {
  const auto& call = static_cast<const CallExpr&>(*stmt.call);
  WICK_ASSIGN_OR_RETURN(Value callee, Eval(*call.callee, frame));
  WICK_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call.args, frame));
  args.keyword.emplace_back("caller",
                            Value::Object(std::make_shared<Macro>(stmt.caller.get(), frame)));
  WICK_ASSIGN_OR_RETURN(Value result, CallValue(callee, std::move(args)));
  return Emit(ToStr(result), out);
}

Status Interpreter::Assign(const Target& target, const Value& value, Frame& frame) {
  if (value.depth() > kMaxValueDepth) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("value nests deeper than {} levels", kMaxValueDepth));
  }
  std::vector<Value> values;
  if (target.tuple) {
    if (!value.is_string() && !value.is_seq() && !value.is_dict() && !value.is_undefined()) {
      return RenderError(fmt::format("cannot unpack non-iterable {} object", TypeName(value)));
    }
    WICK_ASSIGN_OR_RETURN(values, Iterate(value));
    if (values.size() > target.items.size()) {
      return RenderError(
          fmt::format("too many values to unpack (expected {})", target.items.size()));
    }
    if (values.size() < target.items.size()) {
      return RenderError(fmt::format("not enough values to unpack (expected {}, got {})",
                                     target.items.size(), values.size()));
    }
  } else {
    values.push_back(value);
  }
  for (size_t i = 0; i < target.items.size(); ++i) {
    const Target::Item& item = target.items[i];
    if (item.attr.empty()) {
      frame.Set(item.name, std::move(values[i]));
      continue;
    }
    const Value* object = frame.Find(item.name);
    auto* ns = object != nullptr && object->is_object()
                   ? dynamic_cast<Namespace*>(&object->object())
                   : nullptr;
    if (ns == nullptr) return RenderError("cannot assign attribute on non-namespace object");
    ns->Set(item.attr, std::move(values[i]));
  }
  return OkStatus();
}

Result<Value> Interpreter::CallValue(const Value& callee, CallArgs args) {
  if (callee.is_undefined()) return UndefinedError(callee);
  if (!callee.is_object() || !callee.object().callable()) {
    return RenderError(fmt::format("'{}' object is not callable", TypeName(callee)));
  }
  return callee.object().Call(*this, std::move(args));
}

Result<Value> Interpreter::CallMacro(const MacroStmt& macro, const std::shared_ptr<Frame>& closure,
                                     CallArgs args) {
  auto frame = std::make_shared<Frame>(closure ? closure : root_);
  auto take_keyword = [&](std::string_view name) -> std::optional<Value> {
    for (auto it = args.keyword.begin(); it != args.keyword.end(); ++it) {
      if (it->first == name) {
        Value value = std::move(it->second);
        args.keyword.erase(it);
        return value;
      }
    }
    return std::nullopt;
  };
  for (size_t i = 0; i < macro.params.size(); ++i) {
    const MacroParam& param = macro.params[i];
    std::optional<Value> keyword = take_keyword(param.name);
    if (i < args.positional.size()) {
      if (keyword) {
        return RenderError(fmt::format("macro '{}' got multiple values for argument '{}'",
                                       macro.name, param.name));
      }
      frame->Set(param.name, args.positional[i]);
    } else if (keyword) {
      frame->Set(param.name, std::move(*keyword));
    } else if (param.default_value) {
      WICK_ASSIGN_OR_RETURN(Value value, Eval(*param.default_value, frame));
      frame->Set(param.name, std::move(value));
    } else {
      frame->Set(param.name,
                 Value::Undefined(fmt::format("parameter '{}' was not provided", param.name)));
    }
  }
  if (macro.uses_caller) {
    std::optional<Value> caller = take_keyword("caller");
    frame->Set("caller", caller ? std::move(*caller) : Value::Undefined("No caller defined"));
  }
  if (args.positional.size() > macro.params.size()) {
    if (!macro.uses_varargs) {
      return RenderError(fmt::format("macro '{}' takes not more than {} argument(s)", macro.name,
                                     macro.params.size()));
    }
  }
  if (macro.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = macro.params.size(); i < args.positional.size(); ++i) {
      extra.push_back(std::move(args.positional[i]));
    }
    frame->Set("varargs", Value::Tuple(std::move(extra)));
  }
  if (macro.uses_kwargs) {
    DictData kwargs;
    for (auto& [key, value] : args.keyword) kwargs.Set(Value::String(key), std::move(value));
    frame->Set("kwargs", Value::Dict(std::move(kwargs)));
  } else if (!args.keyword.empty()) {
    if (args.keyword.front().first == "caller") {
      return RenderError(fmt::format(
          "macro '{}' was invoked with two values for the special caller argument", macro.name));
    }
    return RenderError(fmt::format("macro '{}' takes no keyword argument '{}'", macro.name,
                                   args.keyword.front().first));
  }
  std::string out;
  WICK_ASSIGN_OR_RETURN(Flow flow, Execute(macro.body, frame, &out));
  (void)flow;  // the parser keeps break and continue inside loops
  return Value::String(std::move(out));
}

Result<Value> Interpreter::Eval(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  RecursionGuard guard(this);
  Result<Value> result =
      recursion_ > kMaxRecursion
          ? Result<Value>(
                Error(ErrorCode::kUnsupported, "template nesting or macro recursion is too deep"))
          : EvalInner(expr, frame);
  if (!result.ok()) NoteErrorLine(expr.line);
  return result;
}

Result<Value> Interpreter::EvalInner(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  WICK_RETURN_IF_ERROR(Step());
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      return static_cast<const LiteralExpr&>(expr).value;
    case Expr::Kind::kName: {
      const std::string& name = static_cast<const NameExpr&>(expr).name;
      if (const Value* value = frame->Find(name)) return *value;
      return Value::Undefined(fmt::format("'{}' is undefined", name));
    }
    case Expr::Kind::kList: {
      const auto& e = static_cast<const ListExpr&>(expr);
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const ExprPtr& item : e.items) {
        WICK_ASSIGN_OR_RETURN(Value value, Eval(*item, frame));
        items.push_back(std::move(value));
      }
      return e.tuple ? Value::Tuple(std::move(items)) : Value::List(std::move(items));
    }
    case Expr::Kind::kDict: {
      DictData dict;
      for (const auto& [key_expr, value_expr] : static_cast<const DictExpr&>(expr).items) {
        WICK_ASSIGN_OR_RETURN(Value key, Eval(*key_expr, frame));
        if (key.is_dict() || (key.is_seq() && key.seq().kind != SeqKind::kTuple)) {
          return RenderError(fmt::format("unhashable type: '{}'", TypeName(key)));
        }
        WICK_ASSIGN_OR_RETURN(Value value, Eval(*value_expr, frame));
        dict.Set(std::move(key), std::move(value));
      }
      return Value::Dict(std::move(dict));
    }
    case Expr::Kind::kAttr: {
      const auto& e = static_cast<const AttrExpr&>(expr);
      WICK_ASSIGN_OR_RETURN(Value object, Eval(*e.object, frame));
      return GetAttr(object, e.name);
    }
    case Expr::Kind::kItem:
      return EvalItem(static_cast<const ItemExpr&>(expr), frame);
    case Expr::Kind::kSlice:
      return RenderError("a slice is only valid inside []");
    case Expr::Kind::kCall: {
      const auto& e = static_cast<const CallExpr&>(expr);
      WICK_ASSIGN_OR_RETURN(Value callee, Eval(*e.callee, frame));
      WICK_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e.args, frame));
      return CallValue(callee, std::move(args));
    }
    case Expr::Kind::kFilter:
      return EvalFilter(static_cast<const FilterExpr&>(expr), frame, nullptr);
    case Expr::Kind::kTest: {
      const auto& e = static_cast<const TestExpr&>(expr);
      WICK_ASSIGN_OR_RETURN(Value input, Eval(*e.input, frame));
      WICK_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e.args, frame));
      WICK_ASSIGN_OR_RETURN(bool passed, ApplyTest(*this, e.name, input, std::move(args)));
      return Value::Bool(passed);
    }
    case Expr::Kind::kUnary: {
      const auto& e = static_cast<const UnaryExpr&>(expr);
      WICK_ASSIGN_OR_RETURN(Value operand, Eval(*e.operand, frame));
      return UnaryOperation(e.op, operand);
    }
    case Expr::Kind::kBinary: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      WICK_ASSIGN_OR_RETURN(Value left, Eval(*e.left, frame));
      // `and` / `or` give one of their operands, as in Python, and short-circuit.
      if (e.op == BinaryOp::kAnd) return Truthy(left) ? Eval(*e.right, frame) : left;
      if (e.op == BinaryOp::kOr) return Truthy(left) ? left : Eval(*e.right, frame);
      WICK_ASSIGN_OR_RETURN(Value right, Eval(*e.right, frame));
      if (e.folded_base && left.is_number() && left.as_float() < 0) {
        // What Jinja2's generated Python computes for a folded negative base: -(|b| ** e).
        WICK_ASSIGN_OR_RETURN(Value magnitude, UnaryOperation(UnaryOp::kNeg, left));
        WICK_ASSIGN_OR_RETURN(Value power, BinaryOperation(BinaryOp::kPow, magnitude, right));
        return UnaryOperation(UnaryOp::kNeg, power);
      }
      WICK_ASSIGN_OR_RETURN(Value result, BinaryOperation(e.op, left, right));
      WICK_RETURN_IF_ERROR(Step(WorkOf(result)));
      return result;
    }
    case Expr::Kind::kConcat: {
      std::string text;
      for (const ExprPtr& part : static_cast<const ConcatExpr&>(expr).parts) {
        WICK_ASSIGN_OR_RETURN(Value value, Eval(*part, frame));
        text += ToStr(value);
        WICK_RETURN_IF_ERROR(CheckSize(text.size()));
      }
      WICK_RETURN_IF_ERROR(Step(static_cast<int64_t>(text.size() / 16)));
      return Value::String(std::move(text));
    }
    case Expr::Kind::kCompare:
      return EvalCompare(static_cast<const CompareExpr&>(expr), frame);
    case Expr::Kind::kCond: {
      const auto& e = static_cast<const CondExpr&>(expr);
      WICK_ASSIGN_OR_RETURN(Value test, Eval(*e.test, frame));
      if (Truthy(test)) return Eval(*e.then, frame);
      if (e.otherwise) return Eval(*e.otherwise, frame);
      return Value::Undefined(fmt::format(
          "the inline if-expression on line {} evaluated to false and no else section was "
          "defined.",
          e.line));
    }
  }
  return RenderError("unknown expression");
}

Result<CallArgs> Interpreter::EvalArgs(const ArgsExpr& args, const std::shared_ptr<Frame>& frame) {
  CallArgs out;
  for (const ExprPtr& arg : args.positional) {
    WICK_ASSIGN_OR_RETURN(Value value, Eval(*arg, frame));
    out.positional.push_back(std::move(value));
  }
  for (const auto& [name, arg] : args.keyword) {
    WICK_ASSIGN_OR_RETURN(Value value, Eval(*arg, frame));
    out.keyword.emplace_back(name, std::move(value));
  }
  if (args.star_args) {
    WICK_ASSIGN_OR_RETURN(Value value, Eval(*args.star_args, frame));
    WICK_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
    for (Value& item : items) out.positional.push_back(std::move(item));
  }
  if (args.star_kwargs) {
    WICK_ASSIGN_OR_RETURN(Value value, Eval(*args.star_kwargs, frame));
    if (!value.is_dict()) {
      return RenderError(
          fmt::format("argument after ** must be a mapping, not {}", TypeName(value)));
    }
    for (const auto& [key, item] : value.dict().entries()) {
      if (!key.is_string()) return RenderError("keywords must be strings");
      out.keyword.emplace_back(key.str(), item);
    }
  }
  return out;
}

Result<Value> Interpreter::EvalFilter(const FilterExpr& filter, const std::shared_ptr<Frame>& frame,
                                      const Value* block_text) {
  Value input;
  if (filter.input == nullptr) {
    input = block_text != nullptr ? *block_text : Value::String("");
  } else if (filter.input->kind == Expr::Kind::kFilter && block_text != nullptr) {
    WICK_ASSIGN_OR_RETURN(
        input, EvalFilter(static_cast<const FilterExpr&>(*filter.input), frame, block_text));
  } else {
    WICK_ASSIGN_OR_RETURN(input, Eval(*filter.input, frame));
  }
  WICK_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(filter.args, frame));
  WICK_ASSIGN_OR_RETURN(Value result, ApplyFilter(*this, filter.name, input, std::move(args)));
  if (result.is_string()) WICK_RETURN_IF_ERROR(CheckSize(result.str().size()));
  WICK_RETURN_IF_ERROR(Step(WorkOf(result)));
  return result;
}

Result<Value> Interpreter::EvalCompare(const CompareExpr& expr,
                                       const std::shared_ptr<Frame>& frame) {
  WICK_ASSIGN_OR_RETURN(Value left, Eval(*expr.first, frame));
  for (const auto& [op, operand] : expr.rest) {
    WICK_ASSIGN_OR_RETURN(Value right, Eval(*operand, frame));
    WICK_ASSIGN_OR_RETURN(bool holds, CompareValues(op, left, right));
    WICK_RETURN_IF_ERROR(Step(WorkOf(left) + WorkOf(right)));
    if (!holds) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

}  // namespace wick::jinja
