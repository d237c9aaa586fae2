#include "lib/service/auth.h"

#include <jwt.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
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

// ---------------------------------------------------------------------------
// JSON Web Tokens, made here with libjwt's encoder.

std::string WriteKey(const std::string& name, const std::string& key) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << key;
  return path;
}

// A token signed with `key` under `algorithm`, with these claims (integers
// and booleans as JSON).
std::string MakeJwt(jwt_alg_t algorithm, const std::string& key,
                    const std::string& claims_json) {
  jwt_t* jwt = nullptr;
  EXPECT_EQ(jwt_new(&jwt), 0);
  EXPECT_EQ(jwt_add_grants_json(jwt, claims_json.c_str()), 0) << claims_json;
  EXPECT_EQ(jwt_set_alg(jwt, algorithm,
                        reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())),
            0);
  char* encoded = jwt_encode_str(jwt);
  EXPECT_NE(encoded, nullptr);
  std::string token = encoded == nullptr ? "" : encoded;
  free(encoded);  // libjwt 1.10 allocates it with malloc
  jwt_free(jwt);
  return token;
}

constexpr char kSecret[] = "a-shared-secret-of-the-lab-0123456789";

TEST(JwtTest, ASignedUnexpiredTokenNamesItsSubject) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::Create(WriteKey("hs256.key", std::string(kSecret) + "\n"),
                          "HS256", "https://idp.lab", "replex");
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  auto claims = [](const std::string& extra) {
    return absl::StrCat(R"({"sub": "alice", "iss": "https://idp.lab",
        "aud": "replex", "exp": 1800003600)",
                        extra, "}");
  };
  absl::StatusOr<Identity> alice =
      verifier->Verify(MakeJwt(JWT_ALG_HS256, kSecret, claims("")), now);
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->user, "alice");
  EXPECT_FALSE(alice->admin);
  absl::StatusOr<Identity> admin = verifier->Verify(
      MakeJwt(JWT_ALG_HS256, kSecret, claims(R"(, "replex_admin": true)")),
      now);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_TRUE(admin->admin);

  // Each check, failed once.
  for (const auto& [token, why] :
       std::vector<std::pair<std::string, std::string>>{
           {MakeJwt(JWT_ALG_HS256, "another-secret-0123456789", claims("")),
            "signature"},
           {MakeJwt(JWT_ALG_HS512, kSecret, claims("")),
            "signed with HS512, not HS256"},
           {MakeJwt(JWT_ALG_HS256, kSecret,
                    R"({"sub": "alice", "iss": "https://idp.lab",
                        "aud": "replex", "exp": 1799999000})"),
            "expired"},
           {MakeJwt(JWT_ALG_HS256, kSecret,
                    R"({"sub": "alice", "iss": "https://idp.lab",
                        "aud": "replex"})"),
            "no exp"},
           {MakeJwt(JWT_ALG_HS256, kSecret, claims(R"(, "nbf": 1800001000)")),
            "not valid yet"},
           {MakeJwt(JWT_ALG_HS256, kSecret,
                    R"({"sub": "alice", "iss": "https://other",
                        "aud": "replex", "exp": 1800003600})"),
            "its iss is not"},
           {MakeJwt(JWT_ALG_HS256, kSecret,
                    R"({"sub": "alice", "iss": "https://idp.lab",
                        "aud": "other", "exp": 1800003600})"),
            "its aud is not"},
           {MakeJwt(JWT_ALG_HS256, kSecret,
                    R"({"sub": "a b", "iss": "https://idp.lab",
                        "aud": "replex", "exp": 1800003600})"),
            "sub claim is not a user name"},
           {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "signature"}}) {
    const absl::Status status = verifier->Verify(token, now).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << why;
    EXPECT_THAT(std::string(status.message()), HasSubstr(why)) << status;
  }
  EXPECT_TRUE(LooksLikeJwt(MakeJwt(JWT_ALG_HS256, kSecret, claims(""))));
  EXPECT_FALSE(LooksLikeJwt(kAlice));
}

TEST(JwtTest, KeysMustSuitTheAlgorithm) {
  const std::string secret = WriteKey("secret.key", kSecret);
  const std::string pem = WriteKey("public.pem",
                                   "-----BEGIN PUBLIC KEY-----\nMFkw\n"
                                   "-----END PUBLIC KEY-----\n");
  for (const auto& [file, algorithm, why] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {secret, "none", "is not one of"},
           {secret, "HS257", "is not one of"},
           {secret, "ES256", "needs a PEM public key"},
           {pem, "HS256", "needs a shared secret"},
           {::testing::TempDir() + "/missing.key", "HS256",
            "--jwt_key_file"}}) {
    const absl::Status status =
        JwtVerifier::Create(file, algorithm, "", "").status();
    EXPECT_FALSE(status.ok()) << algorithm;
    EXPECT_THAT(std::string(status.message()), HasSubstr(why)) << status;
  }
}

// An ES256 verifier takes tokens signed with the private key, and refuses
// one signed with HS256 using the public key as the secret (the classic
// algorithm confusion).
TEST(JwtTest, APublicKeyIsNeverTakenForASecret) {
  const std::string dir = ::testing::TempDir() + "/jwt-es256";
  const std::string make = absl::StrCat(
      "mkdir -p ", dir, " && cd ", dir,
      " && openssl ecparam -name prime256v1 -genkey -noout -out private.pem "
      "2>&1 && openssl ec -in private.pem -pubout -out public.pem 2>&1");
  if (std::system(("command -v openssl >/dev/null")) != 0) {
    GTEST_SKIP() << "no openssl command to make a key";
  }
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string{std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>()};
  };
  const std::string private_key = read(dir + "/private.pem");
  const std::string public_key = read(dir + "/public.pem");
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::Create(dir + "/public.pem", "ES256", "", "");
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  const std::string claims = R"({"sub": "bob", "exp": 1800003600})";
  absl::StatusOr<Identity> bob =
      verifier->Verify(MakeJwt(JWT_ALG_ES256, private_key, claims), now);
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(bob->user, "bob");
  const absl::Status forged =
      verifier->Verify(MakeJwt(JWT_ALG_HS256, public_key, claims), now)
          .status();
  EXPECT_EQ(forged.code(), absl::StatusCode::kUnauthenticated) << forged;
}

}  // namespace
}  // namespace replex::service
