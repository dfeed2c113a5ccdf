#include "text/chat_template.h"

namespace wick {

namespace {

std::string TokenText(const Vocab& vocab, int32_t id) {
  return vocab.Valid(id) ? vocab.tokens[static_cast<size_t>(id)] : std::string();
}

}  // namespace

Result<ChatTemplate> ChatTemplate::FromSource(std::string_view source, std::string bos_token,
                                              std::string eos_token) {
  WICK_ASSIGN_OR_RETURN(jinja::Template parsed, jinja::Template::Parse(source));
  ChatTemplate t;
  t.template_ = std::make_shared<const jinja::Template>(std::move(parsed));
  t.source_ = std::string(source);
  t.bos_token_ = std::move(bos_token);
  t.eos_token_ = std::move(eos_token);
  return t;
}

Result<ChatTemplate> ChatTemplate::FromSource(std::string_view source, const Tokenizer& tokenizer) {
  const Vocab& vocab = tokenizer.vocab();
  return FromSource(source, TokenText(vocab, vocab.bos), TokenText(vocab, vocab.eos));
}

Result<ChatTemplate> ChatTemplate::FromGguf(const GgufFile& file, const Tokenizer& tokenizer) {
  const GgufValue* source = file.Find("tokenizer.chat_template");
  if (source == nullptr || source->type() != GgufValueType::kString) {
    WICK_ASSIGN_OR_RETURN(ChatTemplate t, FromSource(kChatMl, tokenizer));
    t.fallback_ = true;
    return t;
  }
  Result<ChatTemplate> t = FromSource(source->str(), tokenizer);
  if (!t.ok()) return std::move(t).error().With("tokenizer.chat_template");
  return t;
}

Result<std::string> ChatTemplate::Apply(const nlohmann::ordered_json& messages,
                                        bool add_generation_prompt,
                                        const nlohmann::ordered_json& tools) const {
  nlohmann::ordered_json context = {{"messages", messages},
                                    {"add_generation_prompt", add_generation_prompt}};
  if (!tools.is_null()) context["tools"] = tools;
  return Render(std::move(context));
}

Result<std::string> ChatTemplate::Render(nlohmann::ordered_json context,
                                         const jinja::RenderOptions& options) const {
  if (!context.contains("bos_token")) context["bos_token"] = bos_token_;
  if (!context.contains("eos_token")) context["eos_token"] = eos_token_;
  return template_->Render(context, options);
}

}  // namespace wick
