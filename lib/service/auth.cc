#include "lib/service/auth.h"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/text/utf8.h"

namespace replex::service {
namespace {

constexpr int kMaxNameLength = 64;

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains("._~+/=-", c);
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains("._@-", c);
}

bool IsName(absl::string_view name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string Digest(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

absl::StatusOr<std::string> ReadWhole(const std::string& path,
                                      absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::string_view MetadataValue(const Metadata& metadata,
                                absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

absl::Status CheckAccess(const Identity& caller, absl::string_view owner,
                         absl::string_view job_id) {
  if (caller.MayActOn(owner)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "job ", job_id, " belongs to another user; you (", caller.user,
      ") act on your own jobs only, an admin's token on every job"));
}

absl::Status CheckToken(absl::string_view token, absl::string_view what) {
  if (static_cast<int>(token.size()) < Tokens::kMinTokenLength ||
      !std::all_of(token.begin(), token.end(), IsTokenChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": a token is at least ", Tokens::kMinTokenLength,
        " characters of letters, digits and ._~+/=- (make one with `openssl "
        "rand -hex 32`)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tokens> Tokens::Parse(absl::string_view text,
                                     absl::string_view source, Kind kind) {
  const char* format = kind == Kind::kUsers ? "TOKEN USER [admin]"
                                            : "TOKEN WORKER_NAME or TOKEN *";
  Tokens tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const std::string where = absl::StrCat(source, " line ", line_number);
    const bool admin =
        kind == Kind::kUsers && fields.size() == 3 && fields[2] == "admin";
    if (fields.size() != 2 && !admin) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected ", format,
                       " separated by spaces, got ", fields.size(), " fields"));
    }
    if (absl::Status token = CheckToken(fields[0], where); !token.ok()) {
      return token;
    }
    const bool any_name = kind == Kind::kWorkers && fields[1] == "*";
    if (!any_name && !IsName(fields[1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": a ", kind == Kind::kUsers ? "user" : "worker",
          " name is 1 to ", kMaxNameLength, " letters, digits and ._@-",
          kind == Kind::kWorkers ? ", or *" : ""));
    }
    Identity identity{std::string(fields[1]), admin};
    if (!tokens.by_digest_.emplace(Digest(fields[0]), std::move(identity))
             .second) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ": this token is listed before; give each credential its "
          "own token"));
    }
  }
  return tokens;
}

absl::StatusOr<std::optional<Tokens>> Tokens::Read(const std::string& path,
                                                   absl::string_view flag,
                                                   Kind kind) {
  if (path.empty()) return std::nullopt;
  absl::StatusOr<std::string> text = ReadWhole(path, flag);
  if (!text.ok()) return text.status();
  absl::StatusOr<Tokens> tokens =
      Parse(*text, absl::StrCat(flag, " ", path), kind);
  if (!tokens.ok()) return tokens.status();
  if (tokens->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " has no credentials; add lines of ",
        kind == Kind::kUsers ? "TOKEN USER [admin]" : "TOKEN WORKER_NAME"));
  }
  return *std::move(tokens);
}

const Identity* Tokens::Find(absl::string_view token) const {
  auto it = by_digest_.find(Digest(token));
  return it == by_digest_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag) {
  if (path.empty()) return "";
  absl::StatusOr<std::string> text = ReadWhole(path, flag);
  if (!text.ok()) return text.status();
  const std::string token(absl::StripAsciiWhitespace(
      absl::string_view(*text).substr(0, text->find('\n'))));
  if (absl::Status checked = CheckToken(token, absl::StrCat(flag, " ", path));
      !checked.ok()) {
    return checked;
  }
  return token;
}

absl::StatusOr<std::string> BearerToken(const Metadata& metadata,
                                        absl::string_view fix) {
  const absl::string_view header = MetadataValue(metadata, kAuthorizationKey);
  if (header.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "no credentials: this server requires a token (", fix, ")"));
  }
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWithIgnoreCase(header, kBearer) ||
      header.size() == kBearer.size()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the authorization header is not \"Bearer TOKEN\" (", fix, ")"));
  }
  return std::string(absl::StripAsciiWhitespace(header.substr(kBearer.size())));
}

bool SameToken(absl::string_view token, absl::string_view expected) {
  // Comparing digests keeps the time independent of the lengths too.
  const std::string a = Digest(token), b = Digest(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<Identity> Authenticate(const Tokens& tokens,
                                      const Metadata& metadata,
                                      absl::string_view fix) {
  absl::StatusOr<std::string> token = BearerToken(metadata, fix);
  if (!token.ok()) return token.status();
  const Identity* identity = tokens.Find(*token);
  if (identity == nullptr) {
    return absl::UnauthenticatedError(
        absl::StrCat("the token is not valid here (", fix, ")"));
  }
  return *identity;
}

namespace {

// The Common Name of the peer's verified client certificate; nullopt
// without one.
std::optional<std::string> VerifiedCommonName(const grpc::AuthContext& peer) {
  const std::vector<grpc::string_ref> names =
      peer.FindPropertyValues("x509_common_name");
  if (!peer.IsPeerAuthenticated() || names.empty()) return std::nullopt;
  return std::string(names.front().data(), names.front().size());
}

}  // namespace

absl::StatusOr<Identity> CertificateIdentity(
    const grpc::AuthContext& peer, const std::set<std::string>& admins,
    absl::string_view fix) {
  const std::optional<std::string> name = VerifiedCommonName(peer);
  if (!name.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat("no credentials: this server requires a token or a client "
                     "certificate (",
                     fix, ")"));
  }
  const std::string& user = *name;
  if (!IsName(user)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the client certificate's Common Name is not a user name (1 to ",
        kMaxNameLength, " letters, digits and ._@-)"));
  }
  return Identity{user, admins.count(user) > 0};
}

absl::Status CheckCertificateName(const grpc::AuthContext& peer,
                                  const std::set<std::string>& names,
                                  absl::string_view flag) {
  const std::optional<std::string> name = VerifiedCommonName(peer);
  if (!name.has_value()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "no client certificate: this port takes only certificates named ",
        absl::StrJoin(names, ", "), " (", flag, ")"));
  }
  if (names.count(*name) == 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "a certificate named ", text::Shown(*name),
        " may not call this port, which takes only certificates named ",
        absl::StrJoin(names, ", "), " (", flag, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<JwtVerifier> JwtVerifier::Create(const std::string& key_file,
                                                absl::string_view algorithm,
                                                std::string issuer,
                                                std::string audience) {
  absl::StatusOr<std::string> contents = ReadWhole(key_file, "--jwt_key_file");
  if (!contents.ok()) return contents.status();
  std::string key = *std::move(contents);
  const jwt_alg_t alg = jwt_str_alg(std::string(algorithm).c_str());
  if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--jwt_algorithm: ", text::Shown(algorithm),
        " is not one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, "
        "ES384, ES512"));
  }
  if (key.empty()) {
    return absl::InvalidArgumentError("--jwt_key_file: the key is empty");
  }
  const bool hmac =
      alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
  if (hmac) key = std::string(absl::StripTrailingAsciiWhitespace(key));
  if (hmac == absl::StrContains(key, "-----BEGIN")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jwt_key_file: ", algorithm, " needs ",
                     hmac ? "a shared secret, not a PEM key"
                          : "a PEM public key (-----BEGIN PUBLIC KEY-----)"));
  }
  JwtVerifier verifier;
  verifier.key_ = std::move(key);
  verifier.algorithm_ = alg;
  verifier.issuer_ = std::move(issuer);
  verifier.audience_ = std::move(audience);
  return verifier;
}

absl::StatusOr<Identity> JwtVerifier::Verify(absl::string_view token,
                                             absl::Time now) const {
  auto refused = [](absl::string_view why) {
    return absl::UnauthenticatedError(
        absl::StrCat("the JWT is not accepted: ", why,
                     " (get a fresh token from whoever issues them)"));
  };
  jwt_t* jwt = nullptr;
  const std::string text(token);
  if (jwt_decode(&jwt, text.c_str(),
                 reinterpret_cast<const unsigned char*>(key_.data()),
                 static_cast<int>(key_.size())) != 0 ||
      jwt == nullptr) {
    return refused("its signature is not this gateway's key's");
  }
  const std::unique_ptr<jwt_t, void (*)(jwt_t*)> owned(jwt, jwt_free);
  // A token may name any algorithm; one other than the configured would let
  // a public key serve as an HMAC secret.
  if (jwt_get_alg(jwt) != algorithm_) {
    return refused(absl::StrCat("it is signed with ",
                                jwt_alg_str(jwt_get_alg(jwt)), ", not ",
                                jwt_alg_str(jwt_alg_t(algorithm_))));
  }
  const int64_t seconds = absl::ToUnixSeconds(now);
  constexpr int64_t kLeeway = 60;
  errno = 0;
  const long exp = jwt_get_grant_int(jwt, "exp");
  if (errno != 0) return refused("it has no exp (expiry) claim");
  if (exp + kLeeway < seconds) {
    return refused(absl::StrCat("it expired at ",
                                absl::FormatTime(absl::FromUnixSeconds(exp))));
  }
  errno = 0;
  const long nbf = jwt_get_grant_int(jwt, "nbf");
  if (errno == 0 && nbf - kLeeway > seconds) {
    return refused("it is not valid yet (nbf)");
  }
  for (const auto& [claim, expected] :
       {std::pair{"iss", &issuer_}, std::pair{"aud", &audience_}}) {
    if (expected->empty()) continue;
    const char* value = jwt_get_grant(jwt, claim);
    if (value == nullptr || *expected != value) {
      return refused(
          absl::StrCat("its ", claim, " is not \"", *expected, "\""));
    }
  }
  const char* subject = jwt_get_grant(jwt, "sub");
  if (subject == nullptr || !IsName(subject)) {
    return refused(absl::StrCat("its sub claim is not a user name (1 to ",
                                kMaxNameLength, " letters, digits and ._@-)"));
  }
  errno = 0;
  const bool admin = jwt_get_grant_bool(jwt, "replex_admin") == 1 && errno == 0;
  return Identity{subject, admin};
}

bool LooksLikeJwt(absl::string_view token) {
  return absl::StartsWith(token, "eyJ") &&
         std::count(token.begin(), token.end(), '.') == 2;
}

absl::StatusOr<Identity> ForwardedIdentity(const Metadata& metadata) {
  const absl::string_view user = MetadataValue(metadata, kUserKey);
  if (user.empty()) return Identity::Anyone();
  if (!IsName(user)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kUserKey, ": not a user name"));
  }
  return Identity{std::string(user), MetadataValue(metadata, kAdminKey) == "1"};
}

}  // namespace replex::service
