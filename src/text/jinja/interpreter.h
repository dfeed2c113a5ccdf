// Walks a parsed template and writes its output, with Jinja2's scoping: a for loop's body
// gets a fresh scope on every iteration (so `set` inside it does not leak out, which is why
// templates use namespace()), macros see the variables around their definition, and `if`
// blocks share the scope they are in.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "text/jinja/ast.h"
#include "text/jinja/template.h"
#include "text/jinja/value.h"

namespace wick::jinja {

class Namespace;

// One scope of variables; lookups continue in the parent.
class Frame {
 public:
  explicit Frame(std::shared_ptr<Frame> parent) : parent_(std::move(parent)) {}
  const Value* Find(std::string_view name) const;
  void Set(std::string_view name, Value value);

 private:
  // Scopes are small (a loop's variables) and made often, so a vector; a scope with many
  // variables also gets an index.
  static constexpr size_t kIndexFrom = 16;
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  size_t IndexOf(std::string_view name) const;

  std::shared_ptr<Frame> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
  std::unordered_map<std::string, size_t> index_;
};

// A {% macro %} (or the body of a {% call %} block, as `caller`).
class Macro : public Object {
 public:
  Macro(const MacroStmt* stmt, std::weak_ptr<Frame> closure)
      : stmt_(stmt), closure_(std::move(closure)) {}
  std::string TypeName() const override { return "Macro"; }
  std::string Repr() const override { return "<Macro '" + stmt_->name + "'>"; }
  Value GetAttr(std::string_view name) const override;
  bool callable() const override { return true; }
  Result<Value> Call(Interpreter& interpreter, CallArgs args) const override;

 private:
  const MacroStmt* stmt_;
  // Weak, so a macro stored in its own scope does not keep that scope alive forever.
  std::weak_ptr<Frame> closure_;
};

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) {}
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body` with the variables of `context` (a dict).
  Result<std::string> Render(const Body& body, const Value& context);

  const RenderOptions& options() const { return options_; }

  // Python's getattr / getitem as Jinja2's sandbox does them (x.name, x[key]).
  Result<Value> GetAttr(const Value& object, std::string_view name) const;
  Result<Value> GetItem(const Value& object, const Value& key) const;
  Result<Value> CallValue(const Value& callee, CallArgs args);
  Result<Value> CallMacro(const MacroStmt& macro, const std::shared_ptr<Frame>& closure,
                          CallArgs args);
  // Counts units of work; fails once a template has done more than any real one does.
  Status Step(int64_t units = 1);
  // Fails when a string would outgrow the output limit.
  Status CheckSize(size_t bytes) const;
  void RegisterNamespace(const std::shared_ptr<Namespace>& ns) { namespaces_.push_back(ns); }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  // Limits the C++ recursion of Execute/Eval/calls; see kMaxRecursion.
  class RecursionGuard {
   public:
    explicit RecursionGuard(Interpreter* interpreter) : interpreter_(interpreter) {
      ++interpreter_->recursion_;
    }
    ~RecursionGuard() { --interpreter_->recursion_; }
    RecursionGuard(const RecursionGuard&) = delete;
    RecursionGuard& operator=(const RecursionGuard&) = delete;

   private:
    Interpreter* interpreter_;
  };

  Result<Flow> Execute(const Body& body, const std::shared_ptr<Frame>& frame, std::string* out);
  Result<Flow> ExecuteStmt(const Stmt& stmt, const std::shared_ptr<Frame>& frame, std::string* out);
  Result<Flow> ExecuteFor(const ForStmt& stmt, const std::shared_ptr<Frame>& frame,
                          std::string* out);
  Status ExecuteCallBlock(const CallBlockStmt& stmt, const std::shared_ptr<Frame>& frame,
                          std::string* out);
  Status Assign(const Target& target, const Value& value, Frame& frame);
  Status Emit(std::string_view text, std::string* out);

  Result<Value> Eval(const Expr& expr, const std::shared_ptr<Frame>& frame);
  Result<Value> EvalInner(const Expr& expr, const std::shared_ptr<Frame>& frame);
  Result<CallArgs> EvalArgs(const ArgsExpr& args, const std::shared_ptr<Frame>& frame);
  // A filter chain; the innermost filter without input gets `block_text` (filter blocks).
  Result<Value> EvalFilter(const FilterExpr& filter, const std::shared_ptr<Frame>& frame,
                           const Value* block_text);
  Result<Value> EvalItem(const ItemExpr& expr, const std::shared_ptr<Frame>& frame);
  Result<Value> EvalCompare(const CompareExpr& expr, const std::shared_ptr<Frame>& frame);
  // Records where the first error happened, for the "line N" in its message.
  void NoteErrorLine(int line) {
    if (error_line_ == 0) error_line_ = line;
  }

  const RenderOptions& options_;
  std::shared_ptr<Frame> root_;
  int64_t steps_ = 0;
  int recursion_ = 0;
  int error_line_ = 0;
  std::vector<std::weak_ptr<Namespace>> namespaces_;
};

}  // namespace wick::jinja
