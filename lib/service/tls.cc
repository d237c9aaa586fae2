#include "lib/service/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"

namespace replex::service {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A file named by `flag`, whole.
absl::StatusOr<std::string> ReadFlagFile(const char* flag,
                                         const std::string& path,
                                         const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno),
                     "; give the path of ", what));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The ASN.1 time as OpenSSL prints it ("Jan  1 00:00:00 2030 GMT").
std::string TimeText(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size > 0 ? size : 0);
}

// Every certificate in the PEM file named by `flag`: at least one, each
// valid now.
absl::StatusOr<std::vector<Certificate>> ReadCertificates(
    const char* flag, const std::string& path, const std::string& pem,
    const char* what) {
  std::vector<Certificate> certificates;
  Bio bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(cert);
  }
  ERR_clear_error();  // the read past the last one
  if (certificates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path,
        " holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" "
        "block); give ",
        what,
        " in PEM (convert DER with `openssl x509 -inform der -in FILE -out "
        "FILE.pem`)"));
  }
  for (const Certificate& cert : certificates) {
    if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": a certificate in ", path, " expired on ",
                       TimeText(X509_get0_notAfter(cert.get())), "; renew it"));
    }
    if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, ": a certificate in ", path, " is not valid before ",
          TimeText(X509_get0_notBefore(cert.get())),
          "; check this machine's clock or the certificate's dates"));
    }
  }
  return certificates;
}

// Never asks for a passphrase: OpenSSL's default callback would prompt on
// the terminal of a service.
int NoPassphrase(char*, int, int, void*) { return -1; }

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// The certificate and key named by two flags, or nothing when neither is
// set. `whose` says whose they are, for the messages ("the server's").
absl::StatusOr<std::optional<KeyPair>> ReadKeyPair(const char* cert_flag,
                                                   const std::string& cert_path,
                                                   const char* key_flag,
                                                   const std::string& key_path,
                                                   const std::string& whose) {
  if (cert_path.empty() && key_path.empty()) return std::nullopt;
  if (cert_path.empty() || key_path.empty()) {
    const bool has_cert = !cert_path.empty();
    return absl::InvalidArgumentError(absl::StrCat(
        has_cert ? cert_flag : key_flag, " is set but ",
        has_cert ? key_flag : cert_flag, " is not: give both (", whose,
        " PEM certificate and its private key) or neither"));
  }
  const std::string cert_what = absl::StrCat(whose, " certificate");
  absl::StatusOr<std::string> cert_pem =
      ReadFlagFile(cert_flag, cert_path, cert_what.c_str());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::vector<Certificate>> chain =
      ReadCertificates(cert_flag, cert_path, *cert_pem, cert_what.c_str());
  if (!chain.ok()) return chain.status();

  absl::StatusOr<std::string> key_pem =
      ReadFlagFile(key_flag, key_path, "the certificate's private key");
  if (!key_pem.ok()) return key_pem.status();
  Bio bio = MemoryBio(*key_pem);
  PrivateKey key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    if (absl::StrContains(*key_pem, "ENCRYPTED")) {
      return absl::InvalidArgumentError(absl::StrCat(
          key_flag, ": ", key_path,
          " is encrypted and a service cannot ask for its passphrase; give "
          "it unencrypted (`openssl pkey -in KEY -out KEY.plain`) and keep "
          "the file readable only by the service"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, ": ", key_path,
        " holds no PEM private key (a \"-----BEGIN PRIVATE KEY-----\" "
        "block); give the private key of ",
        cert_flag));
  }
  // The server's certificate comes first in a chain.
  if (X509_check_private_key(chain->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, ": ", key_path,
        " is not the private key of the certificate in ", cert_flag, " (",
        cert_path, "); give the key the certificate was made for"));
  }
  return KeyPair{*std::move(cert_pem), *std::move(key_pem)};
}

// The CA certificates named by `flag`, as PEM.
absl::StatusOr<std::string> ReadCa(const char* flag, const std::string& path,
                                   const char* what) {
  absl::StatusOr<std::string> pem = ReadFlagFile(flag, path, what);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::vector<Certificate>> certificates =
      ReadCertificates(flag, path, *pem, what);
  if (!certificates.ok()) return certificates.status();
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files) {
  absl::StatusOr<std::optional<KeyPair>> pair = ReadKeyPair(
      "--tls_cert", files.cert, "--tls_key", files.key, "the server's");
  if (!pair.ok()) return pair.status();
  if (!pair->has_value()) {
    if (!files.client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca is set without --tls_cert and --tls_key: a server "
          "that checks client certificates must serve TLS itself; give "
          "both, or drop --tls_client_ca");
    }
    return nullptr;
  }
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({(*pair)->key_pem, (*pair)->cert_pem});
  if (!files.client_ca.empty()) {
    absl::StatusOr<std::string> ca =
        ReadCa("--tls_client_ca", files.client_ca,
               "the CA certificate that signs the clients' certificates");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<ChannelSecurity> MakeChannelSecurity(
    const ClientTlsFiles& files) {
  if (files.ca.empty()) {
    for (const auto& [flag, value] :
         {std::pair<const char*, const std::string&>{"--tls_client_cert",
                                                     files.cert},
          {"--tls_client_key", files.key},
          {"--tls_server_name", files.server_name}}) {
      if (!value.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            flag,
            " is set without --tls_ca: it applies only to TLS, which "
            "--tls_ca (the CA that signed the server's certificate) turns "
            "on; give it, or drop ",
            flag));
      }
    }
    return ChannelSecurity();
  }
  absl::StatusOr<std::string> ca =
      ReadCa("--tls_ca", files.ca,
             "the CA certificate that signed the server's certificate");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::optional<KeyPair>> pair =
      ReadKeyPair("--tls_client_cert", files.cert, "--tls_client_key",
                  files.key, "this client's");
  if (!pair.ok()) return pair.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = *std::move(ca);
  if (pair->has_value()) {
    options.pem_cert_chain = (*pair)->cert_pem;
    options.pem_private_key = (*pair)->key_pem;
  }
  ChannelSecurity security;
  security.credentials = grpc::SslCredentials(options);
  security.server_name = files.server_name;
  return security;
}

std::string ChannelSecurity::UnreachableHint() const {
  if (!tls()) {
    return "; if it serves TLS, give --tls_ca (the CA that signed its "
           "certificate)";
  }
  return absl::StrCat(
      "; check that it serves TLS with a certificate signed by --tls_ca for ",
      server_name.empty() ? "the host dialled (else give --tls_server_name)"
                          : absl::StrCat("\"", server_name, "\""),
      ", and give --tls_client_cert and --tls_client_key if it requires a "
      "client certificate");
}

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target,
                                             const ChannelSecurity& security,
                                             grpc::ChannelArguments arguments) {
  if (!security.tls()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     arguments);
  }
  if (!security.server_name.empty()) {
    arguments.SetSslTargetNameOverride(security.server_name);
  }
  return grpc::CreateCustomChannel(target, security.credentials, arguments);
}

}  // namespace replex::service
