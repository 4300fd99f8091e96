// Owning handles for the OpenSSL objects the transport reads from files (certificates, keys,
// CRLs), and the readers that return them. Internal to common/net.
#ifndef FEDSYN_COMMON_NET_OPENSSL_HANDLES_H_
#define FEDSYN_COMMON_NET_OPENSSL_HANDLES_H_

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

namespace fedsyn::net {

struct OpenSslFree {
  void operator()(X509* x) const { X509_free(x); }
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
  void operator()(BIO* b) const { BIO_free(b); }
  void operator()(BIGNUM* n) const { BN_free(n); }
  void operator()(char* s) const { OPENSSL_free(s); }
};
template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree>;

// The first PEM object of its kind in `path`; null when the file is missing or holds none.
template <typename T, T* (*Read)(BIO*, T**, pem_password_cb*, void*)>
OpenSslPtr<T> ReadPem(const std::string& path) {
  OpenSslPtr<BIO> in(BIO_new_file(path.c_str(), "r"));
  if (!in) return nullptr;
  return OpenSslPtr<T>(Read(in.get(), nullptr, nullptr, nullptr));
}
inline OpenSslPtr<X509> ReadCertificate(const std::string& path) {
  return ReadPem<X509, PEM_read_bio_X509>(path);
}
inline OpenSslPtr<EVP_PKEY> ReadPrivateKey(const std::string& path) {
  return ReadPem<EVP_PKEY, PEM_read_bio_PrivateKey>(path);
}
inline OpenSslPtr<X509_CRL> ReadCrl(const std::string& path) {
  return ReadPem<X509_CRL, PEM_read_bio_X509_CRL>(path);
}

// A serial number as upper-case hex without leading zeros ("1A2B"), as `openssl x509 -serial`
// and the CA's index print it; empty if it cannot be converted.
inline std::string SerialHex(const ASN1_INTEGER* serial) {
  OpenSslPtr<BIGNUM> number(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!number) return {};
  OpenSslPtr<char> hex(BN_bn2hex(number.get()));
  return hex ? std::string(hex.get()) : std::string();
}

// Seconds since the epoch; 0 for a missing or unreadable time.
inline int64_t UnixTime(const ASN1_TIME* time) {
  if (time == nullptr) return 0;
  tm broken_down{};
  if (ASN1_TIME_to_tm(time, &broken_down) != 1) return 0;
  return static_cast<int64_t>(timegm(&broken_down));
}

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_OPENSSL_HANDLES_H_
