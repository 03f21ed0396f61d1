// With archive.s3, alerts name the snapshots' S3 objects (s3/links.h): the s3:// id the CLI takes,
// the AWS console page, and the upload state in words, so that an alert never implies that an
// object exists before its upload completed. Slack blocks, the webhook's JSON and Alertmanager's
// annotations; the Alerter attaching the latest capture to leak alerts.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <stdexcept>

#include "leakwatch/alert/alerter.h"
#include "leakwatch/alert/alertmanager.h"
#include "leakwatch/alert/slack.h"
#include "leakwatch/alert/webhook.h"
#include "support/json_text.h"

using namespace leakwatch;
using namespace leakwatch::alert;
using nlohmann::json;

namespace {

const std::string kBase = "web/20261203T180000Z-leak-series-1of3";
const std::string kNew = "web/20261203T181000Z-leak-series-2of3";
const std::string kDir = "leakwatch/prod/web-api/5f2c9d0e/web/";

s3::ObjectLink link_for(const std::string& id, s3::UploadState state) {
  s3::ObjectLink o;
  o.archive_id = id;
  o.bucket = "my-bucket";
  std::string stem = id.substr(id.find('/') + 1);
  o.key = kDir + stem + ".heapsnapshot.zst";
  o.metadata_key = kDir + stem + ".json";
  o.console_url = s3::console_url("eu-west-1", o.bucket, o.key);
  o.state = state;
  return o;
}

Event capture(std::vector<std::string> ids, std::vector<s3::ObjectLink> objects) {
  Event e;
  e.type = EventType::capture_completed;
  e.time = core::from_unix_seconds(1'700'000'000);
  e.target = "web";
  e.id = "evt_1";
  CaptureFigures cf;
  cf.archive_ids = std::move(ids);
  cf.s3_objects = std::move(objects);
  cf.size_bytes = 40u << 20;
  e.capture = cf;
  return e;
}

// An Alerter with one webhook sink that is never reached (its io_context is never run).
std::unique_ptr<Alerter> one_webhook_alerter(boost::asio::io_context& io,
                                             const core::Clock& clock) {
  AlertSettings s;
  WebhookSinkSettings w;
  w.url = "http://127.0.0.1:9/hook";
  s.webhooks.push_back(w);
  assign_default_names(s);
  auto a = Alerter::create(io, clock, s, 7);
  EXPECT_TRUE(a.ok());
  return a.ok() ? std::move(*a) : nullptr;
}

Event leak_of(const std::string& target, core::TimePoint when) {
  Event e;
  e.type = EventType::leak_suspected;
  e.time = when;
  e.target = target;
  e.leak = LeakFigures{};
  return e;
}

using leakwatch::testing::all_text;

const std::string kPendingWords = "upload pending: the object exists once the upload completes";

}  // namespace

TEST(S3Links, ConsoleUrlFollowsTheConsoleFormatAndEncodesTheKey) {
  EXPECT_EQ(s3::console_url("eu-west-1", "my-bucket", "leakwatch/prod/a b+c/x.heapsnapshot.zst"),
            "https://eu-west-1.console.aws.amazon.com/s3/object/my-bucket?region=eu-west-1"
            "&prefix=leakwatch/prod/a%20b%2Bc/x.heapsnapshot.zst");
  // A key cannot add query parameters or fragments.
  auto hostile = s3::console_url("eu-west-1", "b", "k&region=x#y?z");
  EXPECT_EQ(hostile,
            "https://eu-west-1.console.aws.amazon.com/s3/object/b?region=eu-west-1"
            "&prefix=k%26region%3Dx%23y%3Fz");
  // Not a region of this console, or not a region at all: no link rather than a wrong one.
  EXPECT_EQ(s3::console_url("cn-north-1", "b", "k"), "");
  EXPECT_EQ(s3::console_url("us-gov-west-1", "b", "k"), "");
  EXPECT_EQ(s3::console_url("evil.example/x", "b", "k"), "");
  EXPECT_EQ(s3::console_url("", "b", "k"), "");
  EXPECT_EQ(s3::to_string(s3::UploadState::pending), std::string("pending"));
}

TEST(S3Links, SlackNamesThePendingObjectWithoutClaimingItExists) {
  auto e = capture({kNew}, {link_for(kNew, s3::UploadState::pending)});
  json m = slack_message(e);
  EXPECT_TRUE(check_slack_message(m).empty()) << m.dump();
  std::string text = all_text(m["blocks"]);
  EXPECT_NE(text.find("*Snapshot in S3*"), std::string::npos) << text;
  EXPECT_NE(
      text.find("`s3://my-bucket/" + kDir + "20261203T181000Z-leak-series-2of3.heapsnapshot.zst`"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(kPendingWords), std::string::npos) << text;
  // The console link is labelled as valid once uploaded; '&' is escaped for Slack's mrkdwn.
  EXPECT_NE(
      text.find("<https://eu-west-1.console.aws.amazon.com/s3/object/my-bucket?region=eu-west-1"
                "&amp;prefix=" +
                kDir +
                "20261203T181000Z-leak-series-2of3.heapsnapshot.zst|AWS console (once "
                "uploaded)>"),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find("Open in the AWS console"), std::string::npos);
  // The notification fallback names the object and says it is pending too.
  std::string fallback = m["text"];
  EXPECT_NE(fallback.find("In S3: s3://my-bucket/" + kDir), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("upload pending"), std::string::npos) << fallback;
}

TEST(S3Links, SlackNamesBothSnapshotsOfADiffAndTheDiffToRunFromALaptop) {
  auto e = capture({kBase, kNew}, {link_for(kBase, s3::UploadState::uploaded),
                                   link_for(kNew, s3::UploadState::pending)});
  json m = slack_message(e);
  EXPECT_TRUE(check_slack_message(m).empty()) << m.dump();
  std::string text = all_text(m["blocks"]);
  const std::string base_url =
      "s3://my-bucket/" + kDir + "20261203T180000Z-leak-series-1of3.heapsnapshot.zst";
  const std::string new_url =
      "s3://my-bucket/" + kDir + "20261203T181000Z-leak-series-2of3.heapsnapshot.zst";
  EXPECT_NE(
      text.find("*Snapshots in S3*\nBase: `" + base_url + "` \xE2\x80\x94 uploaded \xC2\xB7 <"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("|Open in the AWS console>"), std::string::npos) << text;
  EXPECT_NE(text.find("\nNew: `" + new_url + "` \xE2\x80\x94 " + kPendingWords), std::string::npos)
      << text;
  EXPECT_NE(text.find("```leakwatch diff " + base_url + " " + new_url + "```"), std::string::npos)
      << text;
}

TEST(S3Links, AnObjectThatWillNeverExistGetsNoConsoleLinkAndNoDiff) {
  auto base = link_for(kBase, s3::UploadState::not_uploaded);
  base.console_url.clear();  // as Uploader::link gives it
  auto e = capture({kBase, kNew}, {base, link_for(kNew, s3::UploadState::unknown)});
  std::string text = all_text(slack_message(e)["blocks"]);
  EXPECT_NE(text.find("not uploaded: the local file was removed before the upload"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("not uploaded by this leakwatch run: it may not be in S3 \xC2\xB7 <"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("|AWS console (if it was uploaded)>"), std::string::npos) << text;
  EXPECT_EQ(text.find("```leakwatch diff s3://"), std::string::npos) << text;
  EXPECT_TRUE(webhook_payload(e)["capture"]["s3_diff_command"].is_null());
}

TEST(S3Links, SlackWithoutS3IsUnchanged) {
  auto e = capture({kBase, kNew}, {});
  std::string text = all_text(slack_message(e)["blocks"]);
  EXPECT_EQ(text.find("S3"), std::string::npos) << text;
  EXPECT_EQ(text.find("s3://"), std::string::npos) << text;
}

TEST(S3Links, WebhookCarriesEveryObjectWithItsUploadState) {
  auto base = link_for(kBase, s3::UploadState::uploaded);
  auto fresh = link_for(kNew, s3::UploadState::pending);
  fresh.console_url.clear();  // an S3-compatible endpoint: no AWS console
  json j = webhook_payload(capture({kBase, kNew}, {base, fresh}));
  const json& objects = j["capture"]["s3_objects"];
  ASSERT_EQ(objects.size(), 2u) << j.dump();
  EXPECT_EQ(objects[0]["archive_id"], kBase);
  EXPECT_EQ(objects[0]["url"], base.url());
  EXPECT_EQ(objects[0]["bucket"], "my-bucket");
  EXPECT_EQ(objects[0]["key"], base.key);
  EXPECT_EQ(objects[0]["metadata_key"], base.metadata_key);
  EXPECT_EQ(objects[0]["console_url"], base.console_url);
  EXPECT_EQ(objects[0]["upload"], "uploaded");
  EXPECT_EQ(objects[1]["upload"], "pending");
  EXPECT_TRUE(objects[1]["console_url"].is_null());
  EXPECT_EQ(j["capture"]["s3_diff_command"], "leakwatch diff " + base.url() + " " + fresh.url());
  // Without S3: present, empty, null.
  json plain = webhook_payload(capture({kNew}, {}));
  EXPECT_TRUE(plain["capture"]["s3_objects"].is_array());
  EXPECT_TRUE(plain["capture"]["s3_objects"].empty());
  EXPECT_TRUE(plain["capture"]["s3_diff_command"].is_null());
}

TEST(S3Links, AlertmanagerAnnotatesTheNewestObjectAndItsState) {
  auto e = capture({kBase, kNew}, {link_for(kBase, s3::UploadState::uploaded),
                                   link_for(kNew, s3::UploadState::pending)});
  e.type = EventType::leak_suspected;  // what Alertmanager gets (with the latest capture attached)
  LeakFigures f;
  f.slope_bytes_per_hour = 1 << 20;
  e.leak = f;
  json a = alertmanager_alerts(e, {}, e.time)[0]["annotations"];
  EXPECT_EQ(a["s3_snapshot"], link_for(kNew, s3::UploadState::pending).url());
  EXPECT_EQ(a["s3_upload"], "pending");
  EXPECT_EQ(a["s3_console_url"], link_for(kNew, s3::UploadState::pending).console_url);
  EXPECT_EQ(a["s3_diff_command"],
            "leakwatch diff " + link_for(kBase, {}).url() + " " + link_for(kNew, {}).url());
  for (const auto& [k, v] : a.items())
    EXPECT_TRUE(v.is_string()) << k;  // Alertmanager annotations are strings
  e.capture->s3_objects.clear();
  a = alertmanager_alerts(e, {}, e.time)[0]["annotations"];
  EXPECT_FALSE(a.contains("s3_snapshot"));
  EXPECT_FALSE(a.contains("s3_console_url"));
}

TEST(S3Links, AlerterLinksCapturesAndGivesLeakAlertsTheLatestCapture) {
  boost::asio::io_context io;  // never run: nothing leaves the process
  core::ManualClock clock(core::from_unix_seconds(1'700'000'000));
  AlertSettings s;
  WebhookSinkSettings w;
  w.name = "hook";
  w.url = "http://127.0.0.1:9/hook";
  s.webhooks.push_back(w);
  auto a = Alerter::create(io, clock, s, 7);
  ASSERT_TRUE(a);
  std::vector<std::string> asked;
  (*a)->set_archive_linker([&](const std::string& id) -> std::optional<s3::ObjectLink> {
    asked.push_back(id);
    if (id == "web/unknown") return std::nullopt;
    return link_for(id, id == kBase ? s3::UploadState::uploaded : s3::UploadState::pending);
  });

  auto out = (*a)->publish(capture({kBase, kNew}, {}));
  ASSERT_TRUE(out);
  ASSERT_EQ(out->capture->s3_objects.size(), 2u);
  EXPECT_EQ(out->capture->s3_objects[0].archive_id, kBase);
  EXPECT_EQ(out->capture->s3_objects[1].state, s3::UploadState::pending);

  Event leak;
  leak.type = EventType::leak_suspected;
  leak.time = clock.now();
  leak.target = "web";
  leak.leak = LeakFigures{};
  out = (*a)->publish(leak);
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->capture);
  EXPECT_EQ(out->capture->archive_ids, (std::vector<std::string>{kBase, kNew}));
  ASSERT_EQ(out->capture->s3_objects.size(), 2u);
  // A repeat of the open incident is not delivered, and not linked either.
  asked.clear();
  EXPECT_FALSE((*a)->publish(leak));
  EXPECT_TRUE(asked.empty());

  // An id the linker does not know is left out, not invented.
  auto other = capture({"web/unknown"}, {});
  other.time = clock.now();
  out = (*a)->publish(other);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->capture->s3_objects.empty());

  // A linker that throws costs the links, not the alert.
  (*a)->set_archive_linker(
      [](const std::string&) -> std::optional<s3::ObjectLink> { throw std::runtime_error("x"); });
  auto third = capture({"web/20261203T182000Z-leak-series-3of3"}, {});
  out = (*a)->publish(third);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->capture->s3_objects.empty());
}

// A restarted daemon: before its first capture, its leak alerts name the snapshots of the last one
// (Archive::latest_capture_ids), for the same target only.
TEST(S3Links, ARestartedAlerterNamesTheArchivedCaptureInItsFirstLeakAlert) {
  boost::asio::io_context io;
  core::ManualClock clock(core::from_unix_seconds(1'700'000'000));
  auto a = one_webhook_alerter(io, clock);
  ASSERT_TRUE(a);
  a->set_archive_linker([](const std::string& id) -> std::optional<s3::ObjectLink> {
    return link_for(id, s3::UploadState::unknown);
  });
  a->remember_capture("web", {kBase, kNew});
  auto out = a->publish(leak_of("api", clock.now()));
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->capture) << "another target's snapshots were named";
  out = a->publish(leak_of("web", clock.now()));
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->capture);
  EXPECT_EQ(out->capture->archive_ids, (std::vector<std::string>{kBase, kNew}));
  ASSERT_EQ(out->capture->s3_objects.size(), 2u);
  EXPECT_EQ(out->capture->s3_objects[1].archive_id, kNew);
}

TEST(S3Links, WithoutALinkerLeakAlertsStayWithoutCapture) {
  boost::asio::io_context io;
  core::ManualClock clock(core::from_unix_seconds(1'700'000'000));
  auto a = one_webhook_alerter(io, clock);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->publish(capture({kNew}, {})));
  auto leak = leak_of("web", clock.now());
  leak.leak.reset();
  auto out = a->publish(leak);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->capture);
}
