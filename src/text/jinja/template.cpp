#include "text/jinja/template.h"

#include "text/jinja/ast.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/json.h"
#include "text/jinja/parser.h"

namespace wick::jinja {

struct Template::Parsed {
  Body body;
};

Result<Template> Template::Parse(std::string_view source) {
  WICK_ASSIGN_OR_RETURN(Body body, ParseTemplate(source));
  auto parsed = std::make_shared<Parsed>();
  parsed->body = std::move(body);
  return Template(std::move(parsed));
}

Result<std::string> Template::Render(const nlohmann::ordered_json& context,
                                     const RenderOptions& options) const {
  if (!context.is_object()) {
    return Error(ErrorCode::kTypeMismatch, "the render context must be a JSON object");
  }
  WICK_ASSIGN_OR_RETURN(Value variables, FromJson(context));
  Interpreter interpreter(options);
  return interpreter.Render(parsed_->body, variables);
}

bool IsRaisedError(const Error& error) {
  return error.code() == ErrorCode::kInvalidArgument;
}

}  // namespace wick::jinja
