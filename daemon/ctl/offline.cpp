#include "ctl/offline.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/json_text.hpp"
#include "store/audit.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::ctl {

std::optional<std::string> write_whole(const std::string& path, const std::string& content) {
  if (path.empty() || path == "-") {
    if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
        std::fflush(stdout) != 0)
      return std::string("cannot write to standard output: ") + std::strerror(errno);
    return std::nullopt;
  }
  const std::filesystem::path target(path);
  std::error_code ec;
  if (std::filesystem::is_directory(target, ec)) return path + " is a directory";
  auto dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return fmt::format("cannot write {}: {}", path, std::strerror(errno));
  // Any failure: the temporary file goes, the target is left as it was.
  auto fail = [&](bool close_fd) {
    const int err = errno;
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    return fmt::format("cannot write {}: {}", path, std::strerror(err));
  };
  std::size_t done = 0;
  while (done < content.size()) {
    const auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(true);
    done += static_cast<std::size_t>(n);
  }
  // mkstemp's mode 0600 stays: exports and reports hold patient references.
  if (::fsync(fd) != 0) return fail(true);
  if (::close(fd) != 0) return fail(false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(false);
  return std::nullopt;
}

std::optional<std::string> sha256_file(const std::filesystem::path& p, std::string& hex) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fmt::format("cannot read {}: {}", p.string(), strerror(errno));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::array<char, 1 << 16> buf{};
  ssize_t n = 0;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) EVP_DigestUpdate(ctx, buf.data(), n);
  const int err = errno;
  ::close(fd);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md.data(), &len);
  EVP_MD_CTX_free(ctx);
  if (n < 0) return fmt::format("cannot read {}: {}", p.string(), strerror(err));
  hex.clear();
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return std::nullopt;
}

namespace {

struct ArchiveCheck {
  std::string file, sha256, reason;
  std::int64_t checkpoint = 0;  // seq of the journal.archived event that names the file
  bool ok = false;
  bool unreadable = false;
};

// One archive file against the live journal's journal.archived checkpoints: recorded SHA-256
// first (so an archive edited after it was written is named as such), then its own chain, which
// must end at the checkpoint's last seq and hash.
ArchiveCheck check_archive(const std::string& path, const store::audit::Result& live) {
  ArchiveCheck c;
  c.file = path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    c.reason = "no such file";
    c.unreadable = true;
    return c;
  }
  if (auto err = sha256_file(path, c.sha256)) {
    c.reason = *err;
    c.unreadable = true;
    return c;
  }
  const auto name = std::filesystem::path(path).filename().string();
  const store::audit::Archived* by_hash = nullptr;
  const store::audit::Archived* by_name = nullptr;
  for (const auto& a : live.archived) {
    if (a.sha256 == c.sha256) by_hash = &a;
    if (a.file == name) by_name = &a;
  }
  if (!by_hash) {
    if (by_name) {
      c.checkpoint = by_name->seq;
      c.reason = fmt::format(
          "SHA-256 {} differs from {} recorded by the journal.archived checkpoint at seq {} for "
          "{}: the archive file is not the one that was written",
          c.sha256, by_name->sha256, by_name->seq, by_name->file);
    } else if (live.archived.empty()) {
      c.reason = "the journal holds no journal.archived checkpoint: nothing was archived from it";
    } else {
      std::string names;
      for (const auto& a : live.archived) names += (names.empty() ? "" : ", ") + a.file;
      c.reason =
          fmt::format("SHA-256 {} is recorded by none of the journal's {} archive checkpoints ({})",
                      c.sha256, live.archived.size(), names);
    }
    return c;
  }
  c.checkpoint = by_hash->seq;
  store::audit::Result r;
  try {
    store::Db db(path, store::Db::Mode::read_only);
    db.exec("PRAGMA query_only = 1");
    r = store::audit::verify(db);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  if (!r.error.empty()) {
    c.reason = "cannot be verified: " + r.error;
    return c;
  }
  if (!r.ok()) {
    c.reason = "does not verify: " + store::audit::to_string(r.problems.front());
    return c;
  }
  if (r.last_seq != by_hash->last_seq || r.last_hash != by_hash->last_hash) {
    c.reason = fmt::format(
        "ends at seq {} but the checkpoint at seq {} records seq {}..{} ending in hash {}",
        r.last_seq, by_hash->seq, by_hash->first_seq, by_hash->last_seq, by_hash->last_hash);
    return c;
  }
  c.ok = true;
  c.reason = fmt::format(
      "SHA-256 {} as recorded by the journal.archived checkpoint at seq {} ({} by {}); seq "
      "{}..{} verified",
      c.sha256, by_hash->seq, by_hash->at, by_hash->by, r.first_seq, r.last_seq);
  return c;
}

}  // namespace

int audit_verify(const VerifyArgs& args) {
  store::audit::Options o;
  o.check_tables = !args.chain_only;
  for (const auto& text : args.anchors) {
    auto a = store::audit::parse_anchor(text);
    if (!a) {
      fmt::print(stderr, "vitalsctl: --anchor {}: expected SEQ:HASH (64 hex digits)\n", text);
      return kUsage;
    }
    o.anchors.push_back(*a);
  }
  if (!args.anchors_file.empty()) {
    std::string err;
    auto more = store::audit::read_anchors(args.anchors_file, err);
    if (!more) {
      fmt::print(stderr, "vitalsctl: --anchors: {}\n", err);
      return kUsage;
    }
    o.anchors.insert(o.anchors.end(), more->begin(), more->end());
  }
  const bool show_progress = !args.quiet && !args.json && ::isatty(STDERR_FILENO);
  if (show_progress)
    o.progress = [](std::int64_t done, std::int64_t total) {
      fmt::print(stderr, "\rverifying: {} / {} events", done, total);
    };
  store::audit::Result r;
  try {
    if (!std::filesystem::is_regular_file(args.db)) {
      fmt::print(stderr, "vitalsctl: {}: no such database file\n", args.db);
      return kUnreachable;
    }
    store::Db db(args.db, store::Db::Mode::read_only);
    db.exec("PRAGMA query_only = 1");
    r = store::audit::verify(db, o);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  if (show_progress) fmt::print(stderr, "\r\033[K");
  std::vector<ArchiveCheck> archives;
  if (r.error.empty())
    for (const auto& path : args.archives) archives.push_back(check_archive(path, r));
  bool archives_ok = true, archive_unreadable = false;
  for (const auto& c : archives) {
    archives_ok = archives_ok && c.ok;
    archive_unreadable = archive_unreadable || c.unreadable;
  }
  if (args.json) {
    auto j = store::audit::to_json(r);
    if (!args.archives.empty()) {
      auto list = nlohmann::json::array();
      for (const auto& c : archives)
        list.push_back({{"file", c.file},
                        {"ok", c.ok},
                        {"sha256", c.sha256},
                        {"checkpoint_seq", c.checkpoint},
                        {"detail", c.reason}});
      j["archives"] = list;
    }
    fmt::print("{}\n", core::json_text(j));
  } else if (!r.error.empty()) {
    fmt::print(stderr, "vitalsctl: {}\n", r.error);
  } else {
    fmt::print("{}", store::audit::summary(r));
    for (const auto& c : archives)
      fmt::print("archive {}: {}{}\n", c.file, c.ok ? "ok: " : "BROKEN: ", c.reason);
  }
  if (!r.error.empty() || archive_unreadable) return kUnreachable;
  return r.ok() && archives_ok ? kOk : kRefused;
}

}  // namespace vitalsd::ctl
