// JSON Schema to Grammar: the JSON texts valid under a schema, as a byte grammar, so that
// constrained decoding can only write JSON that parses and validates.
//
// Supported: type (object, array, string, number, integer, boolean, null, or a list of
// them), properties, required, additionalProperties (false, true or a schema; false when the
// schema is strict), enum, const, items, prefixItems, minItems/maxItems, minLength/maxLength,
// minimum/maximum for integers, anyOf/oneOf (oneOf as anyOf), allOf of objects, $ref to
// "#/$defs/..", "#/definitions/.." and "#" (recursion allowed), string pattern (a regex
// subset: literals, classes, . ? * + {m,n}, groups, |, ^ $ anchors), format date, time,
// date-time, uuid. An empty schema or `true` is any JSON value. Anything else that would
// change what is valid (e.g. multipleOf, a pattern using backreferences) is an error naming
// the JSON pointer of the keyword, never silently ignored. Keywords that only annotate
// (title, description, examples, default, $schema, $id, $comment) are ignored.
//
// Output shape: properties in the schema's order (pass an ordered_json to keep it: a plain
// nlohmann::json sorts keys), optional ones may be left out; whitespace between tokens is
// limited (nothing, one space, or a newline and up to 20 spaces) and never around the whole
// value; numbers have a bounded number of digits (16 before the point), so that a generation
// cannot run on forever inside whitespace or a number.
//
// What is allowed is always valid, but not every valid text is allowed:
// - additional properties come after the declared ones, their keys spelled canonically (no
//   needless escapes) and never equal to a declared key;
// - minimum/maximum on numbers are rounded inwards to integers and allow no exponent (for
//   integers they are exact); formats other than the four above are annotations, as JSON
//   Schema has them by default; `type` is inferred from the keywords when absent.
// - const/enum values are written as compact JSON (1.0 stays 1.0, objects with no spaces).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"
#include "text/grammar/grammar.h"

namespace wick::text {

struct JsonSchemaOptions {
  // Objects without additionalProperties get false (OpenAI's strict mode) instead of true.
  bool strict = false;
};

// Adds the rules for values valid under `schema` to `grammar` (their names start with
// `prefix`) and returns an element matching one such value, with no whitespace around it.
Result<GrammarElement> AddJsonSchema(Grammar& grammar, const nlohmann::json& schema,
                                     std::string_view prefix, const JsonSchemaOptions& options);
Result<GrammarElement> AddJsonSchema(Grammar& grammar, const nlohmann::ordered_json& schema,
                                     std::string_view prefix, const JsonSchemaOptions& options);

// A whole grammar whose root is one value valid under `schema` (validated: a $ref cycle that
// consumes nothing is refused as left recursion).
Result<Grammar> JsonSchemaGrammar(const nlohmann::json& schema,
                                  const JsonSchemaOptions& options = {});
Result<Grammar> JsonSchemaGrammar(const nlohmann::ordered_json& schema,
                                  const JsonSchemaOptions& options = {});

// Any JSON object (response_format {"type": "json_object"}).
Grammar JsonObjectGrammar();

}  // namespace wick::text
