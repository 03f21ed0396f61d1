#pragma once
// Generic webhook: a JSON document with a versioned schema (docs/alerts.md), signed with
// HMAC-SHA256 over "<unix timestamp>.<body>" when a secret is configured, sent as
//   X-Leakwatch-Signature: t=<unix seconds>,v1=<lowercase hex>
// (the Stripe scheme). Receivers recompute the HMAC, compare in constant time, and reject
// timestamps older than a tolerance (5 minutes recommended) to defeat replays.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "leakwatch/alert/event.h"
#include "leakwatch/alert/slack.h"
#include "leakwatch/core/secret.h"

namespace leakwatch::alert {

inline constexpr const char* kWebhookSchema = "leakwatch.alert/v1";
inline constexpr const char* kSignatureHeader = "X-Leakwatch-Signature";
inline constexpr const char* kEventHeader = "X-Leakwatch-Event";
inline constexpr const char* kDeliveryHeader = "X-Leakwatch-Delivery";
inline constexpr std::chrono::seconds kDefaultSignatureTolerance{300};

nlohmann::json webhook_payload(const Event& e, const RenderOptions& options = {});

// Lowercase hex HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// "t=<unix>,v1=<hex>" for `body` sent at `unix_time`.
std::string signature_header(const core::Secret& secret, std::int64_t unix_time,
                             std::string_view body);

// The reference check receivers implement (used by the tests and shown in docs/alerts.md): the
// header parses, one v1 value matches (constant-time), and |now - t| <= tolerance.
enum class SignatureCheck { valid, malformed, mismatch, expired };
SignatureCheck verify_signature(std::string_view header, const core::Secret& secret,
                                std::string_view body, std::int64_t now_unix,
                                std::chrono::seconds tolerance = kDefaultSignatureTolerance);

}  // namespace leakwatch::alert
