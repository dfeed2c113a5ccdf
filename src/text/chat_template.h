// A model's chat template: the Jinja source shipped in the GGUF (tokenizer.chat_template), or
// a file, rendered with the variables Hugging Face passes (messages, tools,
// add_generation_prompt, bos_token, eos_token).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/gguf_file.h"
#include "text/jinja/template.h"
#include "text/tokenizer.h"

namespace wick {

class ChatTemplate {
 public:
  // ChatML, for models that ship no template.
  static constexpr std::string_view kChatMl =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\n' }}{% endif %}";

  // The file's template, or ChatML when it has none (see is_fallback). The BOS and EOS
  // texts come from the tokenizer.
  static Result<ChatTemplate> FromGguf(const GgufFile& file, const Tokenizer& tokenizer);
  static Result<ChatTemplate> FromSource(std::string_view source, std::string bos_token,
                                         std::string eos_token);
  // A template file for this tokenizer's model.
  static Result<ChatTemplate> FromSource(std::string_view source, const Tokenizer& tokenizer);

  bool is_fallback() const { return fallback_; }
  const std::string& bos_token() const { return bos_token_; }
  // The Jinja source (what it writes tells the model's tool-call format).
  const std::string& source() const { return source_; }

  // Renders a conversation (an array of {"role", "content", ...}).
  Result<std::string> Apply(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                            const nlohmann::ordered_json& tools = nullptr) const;
  // Renders with exactly these variables (bos_token/eos_token added when absent).
  Result<std::string> Render(nlohmann::ordered_json context,
                             const jinja::RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const jinja::Template> template_;
  std::string source_;
  std::string bos_token_;
  std::string eos_token_;
  bool fallback_ = false;
};

}  // namespace wick
