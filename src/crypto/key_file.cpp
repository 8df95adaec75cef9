// Key files for validator (Ed25519) and user (secp256k1) keys: small JSON documents written
// with mode 0600 that never overwrite an existing file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/hex.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/secp256k1.h"

namespace ol::crypto {
namespace {

using nlohmann::json;

Status write_secret_file(const std::filesystem::path& path, const std::string& contents) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(Errc::io,
                      "cannot create key file " + path.string() + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return make_error(Errc::io,
                        "cannot write key file " + path.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return make_error(Errc::io,
                      "cannot flush key file " + path.string() + ": " + std::strerror(errno));
  }
  return {};
}

Result<json> read_json_file(const std::filesystem::path& path, std::size_t max_size = 64 * 1024) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(Errc::not_found, "key file " + path.string() + ": " + ec.message());
  if (size > max_size)
    return make_error(Errc::invalid_argument, "key file " + path.string() + " is too large");
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::invalid_argument,
                      "key file " + path.string() + " is not a JSON object");
  }
  return j;
}

Result<std::string> string_field(const json& j, const char* name,
                                 const std::filesystem::path& path) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return make_error(Errc::invalid_argument,
                      "key file " + path.string() + " has no string field \"" + name + "\"");
  }
  return it->get<std::string>();
}

Status expect_type(const json& j, const char* type, const std::filesystem::path& path) {
  OL_TRY_ASSIGN(std::string t, string_field(j, "type", path));
  if (t != type) {
    return make_error(Errc::invalid_argument,
                      "key file " + path.string() + " holds a " + t + " key, expected " + type);
  }
  return {};
}

std::string ed25519_checksum(const Ed25519KeyPair& key) {
  auto h = sha256(concat(key.seed(), key.public_key().bytes));
  return to_hex(ByteView(h).first(4));
}

}  // namespace

Status save_ed25519_key_file(const std::filesystem::path& path, const Ed25519KeyPair& key) {
  json j = {{"type", "ed25519"},
            {"seed", to_hex(key.seed())},
            {"public_key", to_hex(key.public_key().bytes)},
            {"checksum", ed25519_checksum(key)}};
  return write_secret_file(path, j.dump(2) + "\n");
}

Result<Ed25519KeyPair> load_ed25519_key_file(const std::filesystem::path& path) {
  OL_TRY_ASSIGN(json j, read_json_file(path));
  OL_TRY(expect_type(j, "ed25519", path));
  OL_TRY_ASSIGN(std::string seed_hex, string_field(j, "seed", path));
  auto seed = from_hex_fixed<32>(seed_hex);
  if (!seed) {
    return make_error(Errc::invalid_argument,
                      "key file " + path.string() + ": seed: " + seed.error().message);
  }
  OL_TRY_ASSIGN(auto key, Ed25519KeyPair::from_seed(*seed));
  OL_TRY_ASSIGN(std::string pub_hex, string_field(j, "public_key", path));
  if (pub_hex != to_hex(key.public_key().bytes)) {
    return make_error(Errc::verify,
                      "key file " + path.string() + ": public key does not match the seed");
  }
  OL_TRY_ASSIGN(std::string checksum, string_field(j, "checksum", path));
  if (checksum != ed25519_checksum(key)) {
    return make_error(Errc::verify, "key file " + path.string() + ": bad checksum");
  }
  return key;
}

Status save_secp256k1_key_file(const std::filesystem::path& path, const Secp256k1Key& key) {
  json j = {{"type", "secp256k1"},
            {"secret", to_hex(key.secret())},
            {"address", key.address().to_checksum_hex()}};
  return write_secret_file(path, j.dump(2) + "\n");
}

Result<Secp256k1Key> load_secp256k1_key_file(const std::filesystem::path& path) {
  OL_TRY_ASSIGN(json j, read_json_file(path));
  OL_TRY(expect_type(j, "secp256k1", path));
  OL_TRY_ASSIGN(std::string secret_hex, string_field(j, "secret", path));
  auto secret = from_hex_fixed<32>(secret_hex);
  if (!secret) {
    return make_error(Errc::invalid_argument,
                      "key file " + path.string() + ": secret: " + secret.error().message);
  }
  OL_TRY_ASSIGN(auto key, Secp256k1Key::from_secret(*secret));
  OL_TRY_ASSIGN(std::string addr_text, string_field(j, "address", path));
  auto addr = Address::parse(addr_text);
  if (!addr) {
    return make_error(Errc::invalid_argument,
                      "key file " + path.string() + ": address: " + addr.error().message);
  }
  if (*addr != key.address()) {
    // The address acts as the checksum: a corrupted secret derives a different address.
    return make_error(Errc::verify, "key file " + path.string() +
                                        ": address does not match the secret (bad checksum)");
  }
  return key;
}

}  // namespace ol::crypto
