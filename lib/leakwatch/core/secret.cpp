#include "leakwatch/core/secret.h"

#include "leakwatch/core/fs.h"
#include "leakwatch/core/secret_file.h"

namespace leakwatch::core {

std::string redact(std::string text, const Secret& secret) {
  const std::string& v = secret.reveal();
  if (v.size() < 4) return text;  // too short to redact meaningfully without mangling text
  for (std::size_t pos = text.find(v); pos != std::string::npos; pos = text.find(v, pos)) {
    text.replace(pos, v.size(), "<redacted>");
    pos += 10;
  }
  return text;
}

Result<Secret> read_secret_file(const std::filesystem::path& path) {
  auto r = read_file(path, kSecretFileMax);
  if (!r.ok()) return r.error();
  std::string v = std::move(*r);
  // Editors and `echo` end the file with a line end that is not part of the secret.
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
    v.pop_back();
  if (v.empty()) return make_error(core::Errc::empty, "secret file " + path.string() + " is empty");
  return Secret(std::move(v), "file " + path.string());
}

}  // namespace leakwatch::core
