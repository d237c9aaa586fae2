// Who is calling (docs/security.md). Users present bearer tokens to the
// gateway ("authorization: Bearer TOKEN" metadata), which knows them from a
// tokens file; the gateway forwards the caller's identity to the coordinator
// under its own token; workers present worker tokens on the coordinator's
// worker port. Without tokens files authentication is off: every caller may
// act on every job (a laptop, `replex run`).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/support/string_ref.h"

namespace replex::service {

// A caller as authorization sees it. Copyable.
struct Identity {
  // The user (for a worker's token, the worker name; "*": any name).
  // Empty only for Anyone().
  std::string user;
  bool admin = false;

  // Authentication off: acts on every job, and a job it submits keeps the
  // owner its spec names.
  static Identity Anyone() { return {"", true}; }
  bool anyone() const { return user.empty(); }
  // Admins act on every job; users on the jobs they own.
  bool MayActOn(absl::string_view owner) const {
    return admin || owner == user;
  }
};

// OK when `caller` may act on job `job_id` of `owner`; PERMISSION_DENIED
// saying so otherwise (without naming the owner).
absl::Status CheckAccess(const Identity& caller, absl::string_view owner,
                         absl::string_view job_id);

// Metadata keys. gRPC metadata keys are lower case.
inline constexpr char kAuthorizationKey[] = "authorization";
// What the gateway adds for the coordinator, having authenticated its caller.
inline constexpr char kUserKey[] = "x-replex-user";
inline constexpr char kAdminKey[] = "x-replex-admin";

using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

// The credentials of a tokens file, one per line: "TOKEN USER [admin]" in
// a users' file (the gateway's --tokens_file), "TOKEN WORKER_NAME" or
// "TOKEN *" (any name) in a workers' file (the coordinator's
// --worker_tokens_file). Blank lines and lines starting with '#' are
// skipped. A token is at least kMinTokenLength characters of
// [A-Za-z0-9._~+/=-] (e.g. `openssl rand -hex 32`); a name 1 to 64 of
// [A-Za-z0-9._@-].
// Tokens are kept as SHA-256 digests, so a lookup's timing says nothing of
// how much of a guess was right. Copyable; thread-compatible (const after
// Parse).
class Tokens {
 public:
  static constexpr int kMinTokenLength = 16;
  enum class Kind { kUsers, kWorkers };

  // `source` names the file in errors (its flag and path).
  // INVALID_ARGUMENT naming the line and the fix for a malformed line, a
  // short token or a token listed twice; OK with no credentials for a file
  // of only comments.
  static absl::StatusOr<Tokens> Parse(absl::string_view text,
                                      absl::string_view source, Kind kind);
  // Parse of the file at `path` (the value of `flag`); nullopt when `path`
  // is empty (authentication off). FAILED_PRECONDITION naming `flag` when
  // it cannot be read, INVALID_ARGUMENT when it holds no credential.
  static absl::StatusOr<std::optional<Tokens>> Read(const std::string& path,
                                                    absl::string_view flag,
                                                    Kind kind);

  // The identity `token` stands for; null when it is not one of these.
  const Identity* Find(absl::string_view token) const;
  int size() const { return static_cast<int>(by_digest_.size()); }

 private:
  absl::flat_hash_map<std::string, Identity> by_digest_;
};

// A single secret from a file (e.g. --gateway_token_file): its first line,
// trimmed; "" when `path` is empty (none). FAILED_PRECONDITION or
// INVALID_ARGUMENT naming `flag` when unreadable, empty or not a token (see
// Tokens).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag);
// INVALID_ARGUMENT naming `what` when `token` is not a token (see Tokens).
absl::Status CheckToken(absl::string_view token, absl::string_view what);

// The bearer token in `metadata`; UNAUTHENTICATED naming `fix` when there is
// none or the header is not "Bearer TOKEN".
absl::StatusOr<std::string> BearerToken(const Metadata& metadata,
                                        absl::string_view fix);

// True when `token` equals `expected`, in time independent of where they
// differ.
bool SameToken(absl::string_view token, absl::string_view expected);

// The caller a tokens file makes of `metadata`: UNAUTHENTICATED, with `fix`,
// when there is no token or it is not in `tokens`.
absl::StatusOr<Identity> Authenticate(const Tokens& tokens,
                                      const Metadata& metadata,
                                      absl::string_view fix);

// The identity a verified client certificate gives under mutual TLS: its
// Common Name is the user, an admin when listed in `admins`.
// UNAUTHENTICATED, with `fix`, when the peer presented no verified
// certificate or its Common Name is not a user name.
absl::StatusOr<Identity> CertificateIdentity(
    const grpc::AuthContext& peer, const std::set<std::string>& admins,
    absl::string_view fix);

// OK when the peer presented a verified client certificate whose Common
// Name is in `names`: a role under mutual TLS (the gateways', the
// workers'). UNAUTHENTICATED without one, PERMISSION_DENIED naming the
// Common Name and `flag` (where the names come from) otherwise.
absl::Status CheckCertificateName(const grpc::AuthContext& peer,
                                  const std::set<std::string>& names,
                                  absl::string_view flag);

// Users' JSON Web Tokens, verified with one key and one algorithm (the
// gateway's --jwt_key_file, --jwt_algorithm): the caller is the `sub`
// claim, an admin when `replex_admin` is true. Thread-safe.
class JwtVerifier {
 public:
  // `key_file` (the --jwt_key_file flag): a PEM public key (RS*, ES*) or
  // the shared secret (HS*; its trailing line break is not part of it);
  // `algorithm`: HS256, HS384, HS512, RS256, ..., ES512. `issuer` and
  // `audience`, when not empty, must be the token's `iss` and `aud`.
  // INVALID_ARGUMENT or FAILED_PRECONDITION naming what is wrong.
  static absl::StatusOr<JwtVerifier> Create(const std::string& key_file,
                                            absl::string_view algorithm,
                                            std::string issuer,
                                            std::string audience);

  // The caller `token` names, when its signature is this key's under this
  // algorithm (a token naming another algorithm, "none" included, is
  // refused), it has an `exp` in the future and any `nbf` in the past (a
  // minute's leeway each way for clocks), and iss/aud match.
  // UNAUTHENTICATED saying which check failed.
  absl::StatusOr<Identity> Verify(absl::string_view token,
                                  absl::Time now) const;

 private:
  JwtVerifier() = default;
  std::string key_;
  int algorithm_ = 0;  // jwt_alg_t
  std::string issuer_;
  std::string audience_;
};

// A bearer token in JWT form (three base64url parts, the first a JSON
// object), as opposed to an opaque token of a tokens file.
bool LooksLikeJwt(absl::string_view token);

// The identity the gateway forwarded in `metadata` (kUserKey, kAdminKey);
// Anyone() when it forwarded none (its authentication is off).
// INVALID_ARGUMENT for a malformed user name.
absl::StatusOr<Identity> ForwardedIdentity(const Metadata& metadata);

}  // namespace replex::service
