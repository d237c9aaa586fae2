#include "lib/service/auth.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::service {
namespace {

using ::testing::HasSubstr;

constexpr char kAlice[] = "alice-token-0123456789";
constexpr char kRoot[] = "root-token-0123456789ab";

Tokens UserTokens() {
  absl::StatusOr<Tokens> tokens =
      Tokens::Parse(absl::StrCat("# lab tokens\n\n", kAlice, " alice\n", kRoot,
                                 "\troot   admin  \n"),
                    "--tokens_file t", Tokens::Kind::kUsers);
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  return *tokens;
}

TEST(TokensTest, FindsEachTokensIdentity) {
  const Tokens tokens = UserTokens();
  EXPECT_EQ(tokens.size(), 2);
  ASSERT_NE(tokens.Find(kAlice), nullptr);
  EXPECT_EQ(tokens.Find(kAlice)->user, "alice");
  EXPECT_FALSE(tokens.Find(kAlice)->admin);
  ASSERT_NE(tokens.Find(kRoot), nullptr);
  EXPECT_EQ(tokens.Find(kRoot)->user, "root");
  EXPECT_TRUE(tokens.Find(kRoot)->admin);
  EXPECT_EQ(tokens.Find("alice-token-012345678"), nullptr);
  EXPECT_EQ(tokens.Find(""), nullptr);
}

TEST(TokensTest, MalformedLinesAreRefusedNamingTheLine) {
  struct Case {
    std::string text;
    Tokens::Kind kind;
    std::string error;
  };
  const Case cases[] = {
      {"short alice\n", Tokens::Kind::kUsers, "line 1: a token is at least 16"},
      {"# x\nabcdefghijklmnopq\n", Tokens::Kind::kUsers,
       "line 2: expected TOKEN USER [admin]"},
      {"abcdefghijklmnopq alice root\n", Tokens::Kind::kUsers, "got 3 fields"},
      {"abcdefghijklmnopq ali\"ce\n", Tokens::Kind::kUsers,
       "a user name is 1 to 64"},
      {"abcdefghijklmnopq *\n", Tokens::Kind::kUsers, "a user name"},
      {"abcdefghijklmnopq w1 admin\n", Tokens::Kind::kWorkers,
       "expected TOKEN WORKER_NAME or TOKEN *"},
      {"abcdefghijklmnopq a\nabcdefghijklmnopq b\n", Tokens::Kind::kUsers,
       "line 2: this token is listed before"},
      {"abcdefghijklmn{pq a\n", Tokens::Kind::kUsers, "letters, digits"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Tokens> tokens = Tokens::Parse(c.text, "F", c.kind);
    ASSERT_FALSE(tokens.ok()) << c.text;
    EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tokens.status().message(), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(tokens.status().message(), HasSubstr("F line")) << c.text;
  }
}

TEST(TokensTest, AWorkersFileAllowsAnyName) {
  absl::StatusOr<Tokens> tokens =
      Tokens::Parse("abcdefghijklmnopq *\nbcdefghijklmnopqr gpu-node-1\n", "F",
                    Tokens::Kind::kWorkers);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->Find("abcdefghijklmnopq")->user, "*");
  EXPECT_EQ(tokens->Find("bcdefghijklmnopqr")->user, "gpu-node-1");
}

Metadata With(const std::string& key, const std::string& value) {
  Metadata metadata;
  metadata.emplace(grpc::string_ref(key), grpc::string_ref(value));
  return metadata;
}

TEST(AuthenticateTest, NeedsAKnownBearerToken) {
  const Tokens tokens = UserTokens();
  const std::string bearer = absl::StrCat("Bearer ", kAlice);
  // The metadata refers to the strings, which must outlive it.
  absl::StatusOr<Identity> alice =
      Authenticate(tokens, With("authorization", bearer), "FIX");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->user, "alice");

  absl::StatusOr<Identity> none = Authenticate(tokens, {}, "FIX");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(), HasSubstr("no credentials"));
  EXPECT_THAT(none.status().message(), HasSubstr("FIX"));

  const std::string basic = "Basic YWxpY2U6cHc=";
  absl::StatusOr<Identity> wrong_scheme =
      Authenticate(tokens, With("authorization", basic), "FIX");
  EXPECT_EQ(wrong_scheme.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong_scheme.status().message(), HasSubstr("Bearer TOKEN"));

  const std::string unknown = "Bearer not-a-known-token-at-all";
  absl::StatusOr<Identity> stranger =
      Authenticate(tokens, With("authorization", unknown), "FIX");
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(stranger.status().message(), HasSubstr("not valid"));
}

TEST(AccessTest, UsersActOnTheirOwnJobsAndAdminsOnAll) {
  const Identity alice{"alice", false}, root{"root", true};
  EXPECT_TRUE(CheckAccess(alice, "alice", "j1").ok());
  const absl::Status denied = CheckAccess(alice, "bob", "j2");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), HasSubstr("job j2 belongs to another user"));
  EXPECT_THAT(denied.message(), ::testing::Not(HasSubstr("bob")));
  EXPECT_TRUE(CheckAccess(root, "bob", "j2").ok());
  EXPECT_TRUE(CheckAccess(Identity::Anyone(), "bob", "j2").ok());
}

TEST(ForwardedIdentityTest, ReadsTheGatewaysHeaders) {
  Metadata metadata;
  const std::string user = "alice", admin = "1";
  metadata.emplace(grpc::string_ref(kUserKey), grpc::string_ref(user));
  absl::StatusOr<Identity> forwarded = ForwardedIdentity(metadata);
  ASSERT_TRUE(forwarded.ok());
  EXPECT_EQ(forwarded->user, "alice");
  EXPECT_FALSE(forwarded->admin);
  metadata.emplace(grpc::string_ref(kAdminKey), grpc::string_ref(admin));
  EXPECT_TRUE(ForwardedIdentity(metadata)->admin);
  EXPECT_TRUE(ForwardedIdentity({})->anyone());
  const std::string bad = "al ice";
  EXPECT_EQ(ForwardedIdentity(With(kUserKey, bad)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SameTokenTest, ComparesWholeTokens) {
  EXPECT_TRUE(SameToken(kAlice, kAlice));
  EXPECT_FALSE(SameToken(kAlice, kRoot));
  EXPECT_FALSE(SameToken("alice-token-0123456789x", kAlice));
}

}  // namespace
}  // namespace replex::service
