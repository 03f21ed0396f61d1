#pragma once
// Test PKI for TLS tests: makes a CA and server certificates in a fresh temporary directory with
// tests/support/tls/make_test_ca.sh (openssl CLI). Header-only; link leakwatch::test_support.
//
//   auto pki = leakwatch::testing::TestPki::make();   // ASSERT_TRUE(pki.ok) in the test
//   pki.ca        CA certificate (PEM) to pass as ca_file
//   pki.server_cert / pki.server_key       for localhost and 127.0.0.1
//   pki.wrong_host_cert / wrong_host_key   for wrong.example only
//   pki.other_ca  an unrelated CA
// The directory is removed when the object is destroyed.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace leakwatch::testing {

struct TestPki {
  bool ok = false;
  std::filesystem::path dir;
  std::string ca, ca_key, other_ca, server_cert, server_key, wrong_host_cert, wrong_host_key;

  static TestPki make() {
    TestPki p;
    char tmpl[] = "/tmp/leakwatch-pki-XXXXXX";
    if (!::mkdtemp(tmpl)) return p;
    p.dir = tmpl;
    std::string cmd = std::string("sh '") + LEAKWATCH_TESTS_DIR +
                      "/support/tls/make_test_ca.sh' '" + p.dir.string() + "'";
    if (std::system(cmd.c_str()) != 0) return p;
    auto f = [&](const char* n) { return (p.dir / n).string(); };
    p.ca = f("ca.pem");
    p.ca_key = f("ca.key");
    p.other_ca = f("other-ca.pem");
    p.server_cert = f("server.pem");
    p.server_key = f("server.key");
    p.wrong_host_cert = f("wrong-host.pem");
    p.wrong_host_key = f("wrong-host.key");
    p.ok = std::filesystem::exists(p.server_cert) && std::filesystem::exists(p.wrong_host_cert);
    return p;
  }

  TestPki() = default;
  TestPki(TestPki&& o) noexcept { *this = std::move(o); }
  TestPki& operator=(TestPki&& o) noexcept {
    if (this != &o) {
      cleanup();
      ok = o.ok;
      dir = std::move(o.dir);
      ca = std::move(o.ca);
      ca_key = std::move(o.ca_key);
      other_ca = std::move(o.other_ca);
      server_cert = std::move(o.server_cert);
      server_key = std::move(o.server_key);
      wrong_host_cert = std::move(o.wrong_host_cert);
      wrong_host_key = std::move(o.wrong_host_key);
      o.dir.clear();
    }
    return *this;
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  ~TestPki() { cleanup(); }

 private:
  void cleanup() {
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      dir.clear();
    }
  }
};

}  // namespace leakwatch::testing
